"""Accounts quantdesk has traded or watched: code, paper or live, base currency and an optional alias."""

from __future__ import annotations

import builtins
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import Engine, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from quantdesk.domain.identifiers import AccountId
from quantdesk.domain.values import Currency
from quantdesk.persistence.models import AccountRow
from quantdesk.persistence.repositories._common import now

__all__ = ["AccountRepository", "StoredAccount"]


@dataclass(frozen=True, slots=True)
class StoredAccount:
    """One account as stored."""

    account: AccountId
    is_paper: bool
    base_currency: Currency
    alias: str | None
    created_at: datetime


def _to_account(row: AccountRow) -> StoredAccount:
    return StoredAccount(
        AccountId(row.account_id), row.is_paper, Currency(row.base_currency), row.alias, row.created_at
    )


class AccountRepository:
    """Accounts keyed by their broker code."""

    def __init__(self, engine: Engine) -> None:
        self._engine = engine

    def ensure(
        self,
        account: AccountId | str,
        *,
        is_paper: bool | None = None,
        base_currency: Currency | str = "USD",
        alias: str | None = None,
        ts: datetime | None = None,
    ) -> StoredAccount:
        """Store the account if it is new, else bring its paper flag, base currency and alias up to date.

        ``is_paper`` defaults to IB's convention (paper codes start with ``D``); ``alias=None`` keeps the stored one.
        """
        acct = account if isinstance(account, AccountId) else AccountId(account)
        paper = acct.is_paper if is_paper is None else is_paper
        ccy = Currency.of(base_currency).code
        for _attempt in range(2):
            try:
                with Session(self._engine) as session, session.begin():
                    row = session.scalars(select(AccountRow).where(AccountRow.account_id == acct.value)).one_or_none()
                    if row is None:
                        row = AccountRow(
                            account_id=acct.value,
                            alias=alias,
                            base_currency=ccy,
                            is_paper=paper,
                            created_at=ts or now(),
                        )
                        session.add(row)
                    else:
                        row.is_paper, row.base_currency = paper, ccy
                        if alias is not None:
                            row.alias = alias
                    session.flush()
                    return _to_account(row)
            except IntegrityError:  # a concurrent writer created it first: update it on the second pass
                continue
        raise RuntimeError(f"could not store account {acct}")  # pragma: no cover - two races in a row

    def find(self, account: AccountId | str) -> StoredAccount | None:
        """The stored account, or ``None``."""
        with Session(self._engine) as session:
            row = session.scalars(select(AccountRow).where(AccountRow.account_id == str(account))).one_or_none()
            return None if row is None else _to_account(row)

    def list(self) -> builtins.list[StoredAccount]:
        """Every account, by code."""
        with Session(self._engine) as session:
            return [_to_account(r) for r in session.scalars(select(AccountRow).order_by(AccountRow.account_id))]
