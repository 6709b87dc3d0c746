-- Reminders of annual reports (notice §13; job `supervision.annual-report-reminders`):
-- one row per company, reported year and stage, written in the transaction that sends
-- the company's notification, so a rerun (or a second host) sends nothing twice.
CREATE TABLE registry_annual_report_reminder (
    company_id      bigint NOT NULL REFERENCES registry_company(id),
    year            smallint NOT NULL,
    stage           text NOT NULL CHECK (stage IN ('due-soon', 'overdue')),
    due_on          date NOT NULL,
    notification_id bigint REFERENCES registry_notification(id),
    sent_at         timestamptz NOT NULL,
    PRIMARY KEY (company_id, year, stage)
);
