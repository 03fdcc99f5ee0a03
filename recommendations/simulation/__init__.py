"""The learning loop, demonstrated: simulated users answer the real engine's recommendations over replayed days.

- :mod:`~recommendations.simulation.personas`: hidden preferences, the persona file schema and how a card is answered;
- :mod:`~recommendations.simulation.runner`: the day-by-day replay through the real services;
- :mod:`~recommendations.simulation.report`: weekly and overall figures, hidden preferences against learned profiles;
- :mod:`~recommendations.simulation.sandbox`: the throwaway database and the simulated clock.

Run it with ``manage.py simulate_users`` (see that command's help).
"""
