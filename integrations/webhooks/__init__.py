"""Outgoing webhooks: signed Standard Webhooks deliveries through an outbox and the task queue.

- payloads.py  — the events' JSON (`{type, timestamp, data}`), matching
                 integrations/schemas/webhook-event.schema.json
- signing.py   — `whsec_` secrets, `msg_` ids, the `webhook-*` headers
- endpoints.py — secret rotation, disabling and re-enabling an endpoint
- outbox.py    — `webhook_events_record()` (called in the participation's transaction),
                 `webhook_participant_erased_record()` (in the erasure's), resend, test events
- retries.py   — the retry schedule and Retry-After
- delivery.py  — claim with a renewed lease, one attempt, the `deliver_webhook` task, queueing
                 what is due (one task per delivery, within the endpoint's cap), the relay
"""
