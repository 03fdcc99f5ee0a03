"""Transaction files the import tests share (not a test module)."""

from __future__ import annotations

#: A small history in QuantAI's own CSV format: an opening deposit, a lot of AAPL bought and trimmed, and a
#: fractional NVDA buy. Imported into an empty account it leaves 8,937.00 in cash and four ledger rows.
HISTORY = b"""date,symbol,side,shares,price,fees,amount,note
2024-03-01,,DEPOSIT,,,,10000.00,Opening cash
2024-03-04,AAPL,BUY,10,100.00,1.00,,first lot
2024-03-05,AAPL,SELL,4,110.00,2.00,,trim
2024-03-05,NVDA,BUY,2.5,200.00,0,,
"""
