"""The portfolios app's pure code: no Django, no database, usable from a notebook or a test on plain values.

- :mod:`portfolios.core.ledger`: the money arithmetic of trades and cash (``Decimal``), one fold for the trade
  service and the ledger replay.
- :mod:`portfolios.core.analytics`: returns, P&L, risk and allocation from a ledger and daily closes (pure Python).
- :mod:`portfolios.core.importing`: reading a transactions CSV (QuantAI or Interactive Brokers) into ledger rows.
- :mod:`portfolios.core.rebalancing`: minimum-variance target weights (numpy, pandas, PyPortfolioOpt) and the
  trades to reach them.

Nothing is imported here, so importing the ledger never loads numpy. The code that reads and writes the database
(``selectors``, ``services``) calls these; ``lint-imports`` checks that nothing here imports Django or another app.
"""
