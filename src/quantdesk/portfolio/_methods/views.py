"""Black–Litterman views: parsed against the universe and rescaled from annual to per-observation returns."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from quantdesk.errors import ValidationError

__all__ = ["scale_views"]


def _term(coef: float, name: str, first: bool) -> str:
    sign = "-" if coef < 0 else ("" if first else "+")
    magnitude = abs(coef)
    body = name if magnitude == 1.0 else f"{magnitude!r}*{name}"
    return f"{sign} {body}".strip() if first else f"{sign} {body}"


def scale_views(views: Sequence[str], assets: Sequence[str], factor: float) -> list[str]:
    """Rewrite views on ``assets`` with their right-hand sides multiplied by ``factor`` (1/252: annual to daily).

    Absolute ("AAPL == 0.10") and relative ("MSFT - JPM == 0.02", "2*AAPL - MSFT = 0.01") views are accepted;
    an unknown symbol or an inequality is a :class:`~quantdesk.errors.ValidationError` naming the view.
    """
    from skfolio.utils.equations import equations_to_matrix

    names = np.asarray([list(assets)])
    out: list[str] = []
    for view in views:
        try:
            picks, values, ineq, _ = equations_to_matrix(
                groups=names,
                equations=np.asarray([view]),
                sum_to_one=True,
                raise_if_group_missing=True,
                names=("symbols", "views"),
            )
        except Exception as error:
            raise ValidationError(
                f"cannot read the view {view!r}: {error}",
                field="views",
                value=view,
                hint="write 'AAPL == 0.10' (absolute) or 'MSFT - JPM == 0.02' (relative) with symbols of the universe",
            ) from None
        if len(ineq) or len(values) != 1:
            raise ValidationError(
                f"the view {view!r} is not an equality",
                field="views",
                value=view,
                hint="views state expected returns with '==': 'AAPL == 0.10'",
            )
        row = picks[0]
        nonzero = [i for i in range(len(row)) if row[i] != 0.0]
        if not nonzero:
            raise ValidationError(
                f"the view {view!r} picks no asset", field="views", value=view, hint="name at least one symbol"
            )
        terms = " ".join(_term(float(row[i]), str(assets[i]), k == 0) for k, i in enumerate(nonzero))
        out.append(f"{terms} == {float(values[0]) * factor!r}")
    return out
