-- The company's inbox and optional webhooks (issue 15): what happened to its guards,
-- certificates and requests. Webhook secrets are sealed; deliveries are a log with retries.

CREATE TABLE registry_notification (
    id          bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    company_id  bigint NOT NULL REFERENCES registry_company(id),
    kind        text NOT NULL,
    guard_id    bigint REFERENCES registry_guard(id),
    subject     text NOT NULL,
    data        jsonb NOT NULL DEFAULT '{}'::jsonb,
    created_at  timestamptz NOT NULL,
    read_at     timestamptz
);
CREATE INDEX registry_notification_inbox ON registry_notification (company_id, id DESC);

CREATE TABLE registry_webhook (
    id            bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    company_id    bigint NOT NULL REFERENCES registry_company(id),
    url           text NOT NULL CHECK (length(url) <= 2000),
    secret_sealed bytea NOT NULL,
    created_by    text NOT NULL,
    created_at    timestamptz NOT NULL,
    disabled_at   timestamptz
);

CREATE TABLE registry_webhook_delivery (
    id              bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    webhook_id      bigint NOT NULL REFERENCES registry_webhook(id),
    notification_id bigint NOT NULL REFERENCES registry_notification(id),
    status          text NOT NULL DEFAULT 'pending'
                    CHECK (status IN ('pending', 'delivered', 'gave-up')),
    attempts        integer NOT NULL DEFAULT 0,
    next_attempt_at timestamptz NOT NULL,
    last_status_code integer,
    last_error      text,
    delivered_at    timestamptz,
    UNIQUE (webhook_id, notification_id)
);
CREATE INDEX registry_webhook_delivery_due ON registry_webhook_delivery (next_attempt_at)
    WHERE status = 'pending';
