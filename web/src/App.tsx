import { useState } from "react";
import { QueryClient, QueryClientProvider } from "@tanstack/react-query";
import { createBrowserRouter, RouterProvider, type RouteObject } from "react-router-dom";
import { ApiError } from "./api/errors";
import { Layout } from "./components/Layout";
import { RequireAuth } from "./components/RequireAuth";
import { NotFound } from "./components/Status";
import { DashboardPage } from "./pages/DashboardPage";
import { FollowListPage } from "./pages/FollowListPage";
import { ForgotPasswordPage } from "./pages/ForgotPasswordPage";
import { HomePage } from "./pages/HomePage";
import { LoginPage } from "./pages/LoginPage";
import { NotificationsPage } from "./pages/NotificationsPage";
import { ProfilePage } from "./pages/ProfilePage";
import { RegisterPage } from "./pages/RegisterPage";
import { ResetPasswordPage } from "./pages/ResetPasswordPage";
import { SettingsNotificationsPage } from "./pages/SettingsNotificationsPage";
import { SettingsProfilePage } from "./pages/SettingsProfilePage";
import { UnsubscribePage } from "./pages/UnsubscribePage";
import { VerifyEmailPage } from "./pages/VerifyEmailPage";
import { WatchPage } from "./pages/WatchPage";
import { EarningsPage } from "./tips/EarningsPage";
import { PayoutsRefreshPage, PayoutsReturnPage } from "./tips/PayoutsCard";

export const routes: RouteObject[] = [
  {
    element: <Layout />,
    children: [
      { index: true, element: <HomePage /> },
      { path: "login", element: <LoginPage /> },
      { path: "register", element: <RegisterPage /> },
      { path: "verify-email", element: <VerifyEmailPage /> },
      { path: "forgot-password", element: <ForgotPasswordPage /> },
      { path: "reset-password", element: <ResetPasswordPage /> },
      { path: "u/:username", element: <ProfilePage /> },
      { path: "u/:username/followers", element: <FollowListPage kind="followers" /> },
      { path: "u/:username/following", element: <FollowListPage kind="following" /> },
      { path: "watch/:streamId", element: <WatchPage /> },
      // The link in notification emails: works signed out.
      { path: "unsubscribe", element: <UnsubscribePage /> },
      {
        path: "dashboard",
        element: (
          <RequireAuth>
            <DashboardPage />
          </RequireAuth>
        ),
      },
      // Where Stripe's onboarding sends the creator back (done or left) and for a new link (expired).
      {
        path: "dashboard/payouts/return",
        element: (
          <RequireAuth>
            <PayoutsReturnPage />
          </RequireAuth>
        ),
      },
      {
        path: "dashboard/payouts/refresh",
        element: (
          <RequireAuth>
            <PayoutsRefreshPage />
          </RequireAuth>
        ),
      },
      {
        path: "earnings",
        element: (
          <RequireAuth>
            <EarningsPage />
          </RequireAuth>
        ),
      },
      {
        path: "settings/profile",
        element: (
          <RequireAuth>
            <SettingsProfilePage />
          </RequireAuth>
        ),
      },
      {
        path: "settings/notifications",
        element: (
          <RequireAuth>
            <SettingsNotificationsPage />
          </RequireAuth>
        ),
      },
      {
        path: "notifications",
        element: (
          <RequireAuth>
            <NotificationsPage />
          </RequireAuth>
        ),
      },
      { path: "*", element: <NotFound /> },
    ],
  },
];

export function createQueryClient(): QueryClient {
  return new QueryClient({
    defaultOptions: {
      queries: {
        staleTime: 15_000,
        refetchOnWindowFocus: false,
        // A 4xx will not change by asking again.
        retry: (failures, error) =>
          !(error instanceof ApiError && error.status >= 400 && error.status < 500) && failures < 2,
      },
    },
  });
}

export function App() {
  const [router] = useState(() => createBrowserRouter(routes));
  const [queryClient] = useState(createQueryClient);
  return (
    <QueryClientProvider client={queryClient}>
      <RouterProvider router={router} />
    </QueryClientProvider>
  );
}
