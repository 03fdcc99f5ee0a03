from django.urls import path

from accounts import data_views, views, views_security, views_two_step

urlpatterns = [
    path("login/", views.LoginView.as_view(), name="login"),
    path("login/two-step/", views_two_step.login_two_step_view, name="login_two_step"),
    path("logout/", views.logout_view, name="logout"),
    path("password-reset/", views.password_reset_view, name="password_reset"),
    path("password-reset/done/", views.password_reset_done_view, name="password_reset_done"),
    path("password-reset/complete/", views.password_reset_complete_view, name="password_reset_complete"),
    path("password-reset/<str:uidb64>/<str:token>/", views.password_reset_confirm_view, name="password_reset_confirm"),
    path("register/", views.register_view, name="register"),
    path("register/done/", views.register_done_view, name="register_done"),
    path("register/confirm/<str:uidb64>/<str:token>/", views.register_confirm_view, name="register_confirm"),
    path("onboarding/", views.onboarding_view, name="onboarding"),
    path("onboarding/questionnaire/", views.questionnaire_view, name="onboarding_questionnaire"),
    path("onboarding/profile/", views.risk_profile_view, name="onboarding_profile"),
    path("settings/", views.settings_view, name="account_settings"),
    path("settings/password/", views.password_change_view, name="password_change"),
    path("settings/sessions/", views.sessions_view, name="account_sessions"),
    path("settings/two-step/", views_two_step.two_step_settings_view, name="two_step_settings"),
    path("settings/two-step/set-up/", views_two_step.two_step_setup_view, name="two_step_setup"),
    path("settings/two-step/recovery-codes/", views_two_step.two_step_recovery_codes_view, name="two_step_recovery_codes"),
    path("settings/two-step/turn-off/", views_two_step.two_step_disable_view, name="two_step_disable"),
    path("settings/data/", data_views.data_export_view, name="account_data_export"),
    path("settings/delete/", data_views.account_delete_view, name="account_delete"),
    path("security/", views_security.security_dashboard_view, name="security_dashboard"),
]
