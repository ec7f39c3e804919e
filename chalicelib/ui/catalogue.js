// The event catalogue as the API serves it (GET /v2/webhooks/events): labels of events and
// types in both languages, the plan's limit and what is used per type.
import * as api from "./api.js";

export async function load() {
  const { data } = await api.get("/v2/webhooks/events");
  const events = new Map();
  const types = new Map();
  for (const type of data) {
    types.set(type.type, type);
    for (const event of type.events) events.set(event.event_name, { ...event, type });
  }
  return { types: data, typeByName: types, event: (name) => events.get(name) };
}
