/**
 * `GET /docs`: the interactive API reference (Scalar) over `/openapi.json`. The reference's script
 * comes from a CDN pinned to one version and checked by Subresource Integrity, and the page sends a
 * Content-Security-Policy that lets nothing else run: a changed or hijacked file does not load.
 */
import type { App } from "./app.ts";

/** The reference's single-file browser bundle, pinned; the hash is of that exact file in the npm package. */
export const REFERENCE_SCRIPT = {
  url: "https://cdn.jsdelivr.net/npm/@scalar/api-reference@1.76.0/dist/browser/standalone.js",
  integrity: "sha384-oH1C0RwqcwbVXkC+r8A+4qRoyEUQdtxAzOwumkxZtQBBcsy61FOoPt7B50OVJYYQ",
};

const TITLE = "Salon booking API";

function nonce(): string {
  const bytes = crypto.getRandomValues(new Uint8Array(16));
  return btoa(String.fromCharCode(...bytes));
}

/** The page's policy: the pinned script and this response's inline start-up script, nothing else. */
export function docsPolicy(scriptNonce: string): string {
  return [
    "default-src 'none'",
    `script-src 'nonce-${scriptNonce}' ${new URL(REFERENCE_SCRIPT.url).origin}`,
    "style-src 'self' 'unsafe-inline'",
    "img-src 'self' data:",
    "font-src 'self' data:",
    "connect-src 'self'",
    "base-uri 'none'",
    "form-action 'none'",
    "frame-ancestors 'none'",
  ].join("; ");
}

/** Registers `/docs`. */
export function registerDocs(app: App): void {
  app.get("/docs", (c) => {
    const scriptNonce = nonce();
    c.header("Content-Security-Policy", docsPolicy(scriptNonce));
    c.header("Cache-Control", "no-store");
    const config = JSON.stringify({ url: "/openapi.json", withDefaultFonts: false, hideClientButton: true });
    return c.html(`<!doctype html>
<html lang="en">
  <head>
    <meta charset="utf-8">
    <meta name="viewport" content="width=device-width, initial-scale=1">
    <title>${TITLE}</title>
  </head>
  <body>
    <div id="app"></div>
    <script src="${REFERENCE_SCRIPT.url}" integrity="${REFERENCE_SCRIPT.integrity}" crossorigin="anonymous" nonce="${scriptNonce}"></script>
    <script nonce="${scriptNonce}">Scalar.createApiReference("#app", ${config});</script>
  </body>
</html>`);
  });
}
