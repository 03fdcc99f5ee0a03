"""The composition app: pages and APIs that combine several apps.

It sits at the right end of the dependency order (accounts ← market ← portfolios ← learning ← recommendations ←
backtesting ← insights): it may import every app, and no app imports it (``.importlinter`` checks both). What
lives here is what no single app may compute: the home page (market prices and the onboarding step), the
portfolio analytics API with the investor's recommendation statistics, the onboarding steps that span accounts,
portfolios and recommendations, the Learning page and performance API with how the recommendations did live,
and the operators' System page with ``/metrics``.
"""
