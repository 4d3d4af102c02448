"""The ``quantdesk`` command line: a thin shell over ``quantdesk.services``."""
