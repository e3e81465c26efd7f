// The app's SMART client settings, served by the service (so the operator sets them, not the build).
export async function loadConfig() {
  const response = await fetch("config.json", { credentials: "same-origin" });
  if (!response.ok) throw new Error(`config.json: HTTP ${response.status}`);
  return response.json();
}
