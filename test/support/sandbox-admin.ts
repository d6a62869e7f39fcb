/** A call to a sandbox's admin API (`/api/sandbox…` at `adminUrl`): the parsed JSON answer, or an error with the status and body. */
export async function sandboxAdmin<T = unknown>(adminUrl: string, method: string, path: string, body?: unknown): Promise<T> {
  const response = await fetch(`${adminUrl}/api/sandbox${path}`, {
    method,
    headers: body === undefined ? {} : { 'content-type': 'application/json' },
    ...(body === undefined ? {} : { body: JSON.stringify(body) }),
  });
  const text = await response.text();
  if (!response.ok) throw new Error(`sandbox ${method} ${path}: HTTP ${response.status} ${text}`);
  return (text === '' ? null : JSON.parse(text)) as T;
}
