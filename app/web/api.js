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

export function createApi(token, prefix = '/api/v1') {
  async function request(method, path, body) {
    const headers = { Authorization: `Bearer ${token}`, Accept: 'application/json' };
    if (body !== undefined) headers['Content-Type'] = 'application/json';
    const response = await fetch(prefix + path, {
      method,
      headers,
      body: body === undefined ? undefined : JSON.stringify(body),
      credentials: 'same-origin',
    });
    if (!response.ok) throw new ApiError(response.status, await reasonOf(response));
    if (response.status === 204) return null;
    return response.json();
  }

  const id = (value) => encodeURIComponent(value);
  return {
    // Sets the HttpOnly cookie that EventSource (which cannot send headers) authenticates with.
    startSession: () => request('POST', '/session'),
    squad: () => request('GET', '/squads/me'),
    agents: () => request('GET', '/agents'),
    tasks: () => request('GET', '/tasks'),
    task: (taskId) => request('GET', `/tasks/${id(taskId)}`),
    assign: (taskId, agentId) => request('POST', `/tasks/${id(taskId)}/assign`, { agent_id: agentId }),
    // A move a person makes by hand (review -> done, failed -> todo): PATCH with the new status.
    setStatus: (taskId, status) => request('PATCH', `/tasks/${id(taskId)}`, { status }),
  };
}
