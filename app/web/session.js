// The squad's credentials. The board is opened as /#squad=<id>&token=<token>: the fragment never
// reaches a server or a log. The token moves into sessionStorage (this tab only) and leaves the
// visible URL, so it is not bookmarked, shared in a screenshot or kept in history.

const TOKEN_KEY = 'agent-squad.token';
const SQUAD_KEY = 'agent-squad.squad';

/** Returns {squadId, token} from the fragment or this tab's storage, or null when there is none. */
export function takeSession(win = window) {
  const params = new URLSearchParams(win.location.hash.replace(/^#/, ''));
  const token = params.get('token');
  if (token) {
    win.sessionStorage.setItem(TOKEN_KEY, token);
    win.sessionStorage.setItem(SQUAD_KEY, params.get('squad') || '');
    win.history.replaceState(win.history.state, '', win.location.pathname + win.location.search);
  }
  const stored = win.sessionStorage.getItem(TOKEN_KEY);
  return stored ? { squadId: win.sessionStorage.getItem(SQUAD_KEY) || null, token: stored } : null;
}

/** Drops a token the server rejected, so a reload asks for a fresh link instead of failing again. */
export function forgetSession(win = window) {
  win.sessionStorage.removeItem(TOKEN_KEY);
  win.sessionStorage.removeItem(SQUAD_KEY);
}
