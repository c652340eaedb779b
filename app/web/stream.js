// The squad's event stream. EventSource reconnects by itself after a dropped connection (sending
// Last-Event-ID, so nothing is lost); when the server refuses outright (e.g. 401 after the session
// cookie expired) EventSource gives up, so this renews the session and reconnects with backoff,
// resuming after the last event seen.

const MAX_BACKOFF_MS = 15000;

export function openStream({ url = '/api/v1/events', onEvent, onState, renewSession }) {
  let source = null;
  let lastEventId = null;
  let failures = 0;
  let timer = null;
  let closed = false;

  function connect() {
    const target = lastEventId === null ? url : `${url}?last_event_id=${encodeURIComponent(lastEventId)}`;
    source = new EventSource(target);
    source.onopen = () => {
      failures = 0;
      onState('live');
    };
    source.onmessage = (message) => {
      if (message.lastEventId) lastEventId = message.lastEventId;
      let event;
      try {
        event = JSON.parse(message.data);
      } catch {
        console.warn('ignored an event that is not JSON', message.data);
        return;
      }
      onEvent(event);
    };
    source.onerror = () => {
      if (closed) return;
      onState('reconnecting');
      if (source.readyState === EventSource.CLOSED) retryLater();
    };
  }

  function retryLater() {
    source.close();
    const delay = Math.min(1000 * 2 ** failures, MAX_BACKOFF_MS);
    failures += 1;
    timer = setTimeout(async () => {
      try {
        await renewSession();
      } catch (error) {
        console.warn('could not renew the stream session', error);
      }
      if (!closed) connect();
    }, delay);
  }

  connect();
  return {
    close() {
      closed = true;
      clearTimeout(timer);
      if (source) source.close();
    },
  };
}
