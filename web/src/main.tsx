import { StrictMode } from "react";
import { createRoot } from "react-dom/client";
import { App } from "./App";
import { restoreSession } from "./auth/auth";
import "./styles/app.css";

// Get an access token from the HttpOnly refresh cookie before anything asks for one.
void restoreSession();

const root = document.getElementById("root");
if (!root) throw new Error("index.html has no #root element");
createRoot(root).render(
  <StrictMode>
    <App />
  </StrictMode>,
);
