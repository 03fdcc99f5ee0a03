from django.urls import path

from accounts.api import security, views

urlpatterns = [
    path("register", views.RegisterView.as_view(), name="api-auth-register"),
    path("register/confirm", views.RegisterConfirmView.as_view(), name="api-auth-register-confirm"),
    path("login", views.LoginView.as_view(), name="api-auth-login"),
    path("token", views.TokenView.as_view(), name="api-auth-token"),
    path("logout", views.LogoutView.as_view(), name="api-auth-logout"),
    path("me", views.MeView.as_view(), name="api-auth-me"),
    path("profile/questionnaire", views.QuestionnaireView.as_view(), name="api-auth-questionnaire"),
    path("profile/starting-cash", views.StartingCashView.as_view(), name="api-auth-starting-cash"),
    path("onboarding/complete", views.OnboardingCompleteView.as_view(), name="api-auth-onboarding-complete"),
    path("password", views.PasswordChangeView.as_view(), name="api-auth-password"),
    path("password-reset", views.PasswordResetRequestView.as_view(), name="api-auth-password-reset"),
    path("password-reset/confirm", views.PasswordResetConfirmView.as_view(), name="api-auth-password-reset-confirm"),
    path("sessions", views.SessionsView.as_view(), name="api-auth-sessions"),
    path("sessions/revoke-others", views.SessionsRevokeOthersView.as_view(), name="api-auth-sessions-revoke-others"),
    path("security/summary", security.SecuritySummaryView.as_view(), name="api-auth-security-summary"),
]
