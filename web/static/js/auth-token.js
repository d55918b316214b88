/** Where the admin access token lives between page loads (localStorage). */
const KEY = "flowrt-auth";

/** The stored access token, or null when absent or expired. */
export function getToken() {
  try {
    const saved = JSON.parse(localStorage.getItem(KEY) || "null");
    if (saved && saved.expires > Date.now()) return saved.token;
  } catch {
    /* a corrupt entry counts as no token */
  }
  return null;
}

/** Remember a token for `expiresIn` seconds. */
export function setToken(token, expiresIn) {
  localStorage.setItem(KEY, JSON.stringify({ token, expires: Date.now() + expiresIn * 1000 }));
}

/** Forget the token. */
export function clearToken() {
  localStorage.removeItem(KEY);
}
