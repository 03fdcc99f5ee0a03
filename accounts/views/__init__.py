"""Server-rendered account pages, one module per group of pages (the API is :mod:`accounts.api`):

- :mod:`~accounts.views.sign_in`: sign in, sign out, password reset by e-mail;
- :mod:`~accounts.views.two_step`: the code after the password, and Settings > Two-step sign-in;
- :mod:`~accounts.views.registration`: registration and its confirmation link;
- :mod:`~accounts.views.onboarding`: the wizard's first steps (questionnaire, risk profile);
- :mod:`~accounts.views.account_settings`: settings, password change, sessions and tokens;
- :mod:`~accounts.views.data_safety`: "download my data" and account deletion;
- :mod:`~accounts.views.security`: the operators' security dashboard.
"""
