from django.urls import path

from accounts.views import account_settings, data_safety, onboarding, registration, security, sign_in, two_step

urlpatterns = [
    path("login/", sign_in.LoginView.as_view(), name="login"),
    path("login/two-step/", two_step.login_two_step_view, name="login_two_step"),
    path("logout/", sign_in.logout_view, name="logout"),
    path("password-reset/", sign_in.password_reset_view, name="password_reset"),
    path("password-reset/done/", sign_in.password_reset_done_view, name="password_reset_done"),
    path("password-reset/complete/", sign_in.password_reset_complete_view, name="password_reset_complete"),
    path("password-reset/<str:uidb64>/<str:token>/", sign_in.password_reset_confirm_view, name="password_reset_confirm"),
    path("register/", registration.register_view, name="register"),
    path("register/done/", registration.register_done_view, name="register_done"),
    path("register/confirm/<str:uidb64>/<str:token>/", registration.register_confirm_view, name="register_confirm"),
    path("onboarding/", onboarding.onboarding_view, name="onboarding"),
    path("onboarding/questionnaire/", onboarding.questionnaire_view, name="onboarding_questionnaire"),
    path("onboarding/profile/", onboarding.risk_profile_view, name="onboarding_profile"),
    path("settings/", account_settings.settings_view, name="account_settings"),
    path("settings/password/", account_settings.password_change_view, name="password_change"),
    path("settings/sessions/", account_settings.sessions_view, name="account_sessions"),
    path("settings/two-step/", two_step.two_step_settings_view, name="two_step_settings"),
    path("settings/two-step/set-up/", two_step.two_step_setup_view, name="two_step_setup"),
    path("settings/two-step/recovery-codes/", two_step.two_step_recovery_codes_view, name="two_step_recovery_codes"),
    path("settings/two-step/turn-off/", two_step.two_step_disable_view, name="two_step_disable"),
    path("settings/data/", data_safety.data_export_view, name="account_data_export"),
    path("settings/delete/", data_safety.account_delete_view, name="account_delete"),
    path("security/", security.security_dashboard_view, name="security_dashboard"),
]
