"""Outgoing webhooks: signed Standard Webhooks deliveries through an outbox and the task queue.

- payloads.py  — the events' JSON (`{type, timestamp, data}`), matching
                 integrations/schemas/webhook-event.schema.json
- signing.py   — `whsec_` secrets, `msg_` ids, the `webhook-*` headers
- endpoints.py — secret rotation, disabling and re-enabling an endpoint
- outbox.py    — `webhook_events_record()` (called in the participation's transaction),
                 `webhook_participant_erased_record()` (in the erasure's), resend, test events
- retries.py   — the retry schedule and Retry-After
- leases.py    — claiming with a renewed lease, the endpoint's concurrency cap, the handover of
                 a freed slot to the endpoint's next due delivery
- attempts.py  — one signed POST over the endpoint's kept-alive session, and its record
- tasks.py     — the `deliver_webhook` task (drains its endpoint's due deliveries), queueing what
                 is due within each endpoint's cap
- relay.py     — the relay's pass (`relay_webhooks`)
- forms.py     — the endpoint form of the admin
"""
