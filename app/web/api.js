// The platform's JSON API, called with the squad's bearer token.

export class ApiError extends Error {
  constructor(status, detail) {
    super(detail);
    this.name = 'ApiError';
    this.status = status;
  }
}

// FastAPI answers {"detail": "..."} or, for validation errors, {"detail": [{"msg": ...}, ...]}.
async function reasonOf(response) {
  let body = null;
  try {
    body = await response.json();
  } catch {
    // Not JSON (a proxy's error page, say): the status line is the best reason there is.
  }
  const detail = body && body.detail;
  if (typeof detail === 'string') return detail;
  if (Array.isArray(detail)) return detail.map((item) => item.msg || JSON.stringify(item)).join('; ');
  return `${response.status} ${response.statusText}`.trim();
}

// The URL of a `Link` header's rel="next" entry (RFC 8288), or null: the task list comes in pages.
export function nextLink(header) {
  if (!header) return null;
  for (const part of header.split(',')) {
    const link = part.match(/^\s*<([^>]*)>(.*)$/);
    if (!link) continue;
    const rel = link[2].match(/;\s*rel\s*=\s*(?:"([^"]*)"|([^\s;]+))/i);
    const relations = rel ? (rel[1] ?? rel[2]).toLowerCase().split(/\s+/) : [];
    if (relations.includes('next')) return link[1];
  }
  return null;
}

export function createApi(token, prefix = '/api/v1') {
  async function send(method, url, body) {
    const headers = { Authorization: `Bearer ${token}`, Accept: 'application/json' };
    if (body !== undefined) headers['Content-Type'] = 'application/json';
    const response = await fetch(url, {
      method,
      headers,
      body: body === undefined ? undefined : JSON.stringify(body),
      credentials: 'same-origin',
    });
    if (!response.ok) throw new ApiError(response.status, await reasonOf(response));
    return response;
  }

  async function request(method, path, body) {
    const response = await send(method, prefix + path, body);
    if (response.status === 204) return null;
    return response.json();
  }

  // Every page of a paged list, following its next links (only to this origin: the token goes along).
  async function everyPage(path) {
    const items = [];
    let url = prefix + path;
    while (url) {
      const response = await send('GET', url);
      items.push(...(await response.json()));
      const next = nextLink(response.headers.get('Link'));
      url = next && new URL(next, window.location.href).origin === window.location.origin ? next : null;
    }
    return items;
  }

  const id = (value) => encodeURIComponent(value);
  return {
    // Sets the HttpOnly cookie that EventSource (which cannot send headers) authenticates with.
    startSession: () => request('POST', '/session'),
    squad: () => request('GET', '/squads/me'),
    agents: () => request('GET', '/agents'),
    tasks: () => everyPage('/tasks'),
    task: (taskId) => request('GET', `/tasks/${id(taskId)}`),
    assign: (taskId, agentId) => request('POST', `/tasks/${id(taskId)}/assign`, { agent_id: agentId }),
    // A move a person makes by hand (review -> done, failed -> todo): PATCH with the new status.
    setStatus: (taskId, status) => request('PATCH', `/tasks/${id(taskId)}`, { status }),
  };
}
