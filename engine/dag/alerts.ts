/**
 * The alert keys of a DAG file: `on_failure`, `on_retry`, `on_success` and
 * `on_dq_warning`, Airflow's `on_*_callback`s written as data. Each holds a
 * list of alerts; an alert is one of `webhook`, `email` or `command`, with its
 * own `timeout`, `retries` and `retry_delay`. Secrets are never written in
 * the file: a webhook URL comes from `url_env`, SMTP credentials from
 * `user_env` / `password_env` (names of environment variables).
 *
 * Validated here with zod, so a misspelt key is reported at file:line with a
 * "did you mean"; engine/alerts/ sends them.
 */
import { z } from 'zod';
import { ALERT_EVENTS, type AlertSpec, type AlertTarget } from '../interfaces.js';
import { duration } from '../operator.js';
import { RUN_VARIABLES, templateVariables } from '../template/index.js';
import { errorMessage } from '../errors.js';
import type { PathKey } from './source.js';

/** Defaults of every alert: 10 s per attempt, 2 retries, 1 s before the first retry (doubling). */
export const ALERT_DEFAULTS = { timeoutMs: 10_000, retries: 2, retryDelayMs: 1_000 } as const;

/** The variables an alert's templates (command arguments, email subject, report_file) may use. */
export const ALERT_VARIABLES = [...RUN_VARIABLES, 'event', 'state', 'error', 'try_number', 'report'] as const;

const ENV_NAME = /^[A-Za-z_][A-Za-z0-9_]*$/;
const envName = (what: string) =>
  z.string().regex(ENV_NAME, {
    message: `must be the NAME of an environment variable holding ${what} (letters, digits, _), not the value`,
  });

/** A string that may hold Liquid, checked for unknown variables and syntax at load. */
const alertTemplate = z.string().superRefine((s, ctx) => {
  let vars;
  try {
    vars = templateVariables(s);
  } catch (err) {
    ctx.addIssue({ code: 'custom', message: errorMessage(err) });
    return;
  }
  for (const v of vars) {
    if ((ALERT_VARIABLES as readonly string[]).includes(v.name)) continue;
    ctx.addIssue({
      code: 'custom',
      message: `unknown template variable '${v.name}'; an alert's templates may use ${ALERT_VARIABLES.join(', ')}`,
    });
  }
});

const webhookShape = {
  url: z.string().optional().describe('the URL to POST to; prefer url_env: a Slack webhook URL is a secret'),
  url_env: envName('the webhook URL').optional().describe('environment variable holding the URL, e.g. SLACK_WEBHOOK_URL'),
};
const webhookSchema = z
  .object(webhookShape)
  .strict()
  .superRefine((w, ctx) => {
    if ((w.url === undefined) === (w.url_env === undefined)) {
      ctx.addIssue({
        code: 'custom',
        message: 'a webhook needs exactly one of `url_env: VAR` (recommended) or `url: https://...`',
      });
      return;
    }
    if (w.url !== undefined && !/^https?:\/\/[^\s/]+/i.test(w.url)) {
      ctx.addIssue({ code: 'custom', path: ['url'], message: `must be an http:// or https:// URL` });
    }
  })
  .describe('POST a JSON body (with a Slack-compatible `text`) to a URL');

const smtpShape = {
  host: z.string().min(1).describe('SMTP server host, e.g. smtp.example.com'),
  port: z.number().int().min(1).max(65535).optional().describe('default 587 (starttls), 465 (implicit) or 25 (none)'),
  tls: z
    .enum(['starttls', 'implicit', 'none'])
    .optional()
    .describe('starttls (default: upgrade required), implicit (TLS from the start, port 465) or none (plain; local relays)'),
  user_env: envName('the SMTP user').optional().describe('environment variable holding the SMTP user'),
  password_env: envName('the SMTP password').optional().describe('environment variable holding the SMTP password'),
};
const smtpSchema = z.object(smtpShape).strict();

const emailShape = {
  to: z
    .union([z.string().min(3), z.array(z.string().min(3)).min(1)], { error: 'must be an address or a list of addresses' })
    .describe('recipients'),
  from: z.string().optional().describe('sender address (default sluice@<host>)'),
  subject: alertTemplate.optional().describe('subject template (default "[sluice] <event>: <dag>.<task> <ds>")'),
  smtp: smtpSchema.describe('the SMTP server'),
};
const emailSchema = z.object(emailShape).strict().describe('send an email through SMTP');

const commandSchema = z
  .array(alertTemplate, { error: 'must be a list: the program and its arguments, e.g. [notify-send, "{{ task_id }}"]' })
  .min(1)
  .describe('run a program (no shell) with templated arguments; the JSON body is on its stdin');

const alertShape = {
  webhook: webhookSchema.optional(),
  email: emailSchema.optional(),
  command: commandSchema.optional(),
  timeout: duration.optional().describe('limit of one attempt (default 10s)'),
  retries: z.number().int().min(0).max(10).optional().describe('attempts after the first (default 2)'),
  retry_delay: duration.optional().describe('wait before the first retry, doubling after (default 1s)'),
  report_file: alertTemplate.optional().describe('where your pipeline writes the HTML report: the link becomes file://<path>'),
};
export const ALERT_KEYS = Object.keys(alertShape);
const KIND_KEYS = ['webhook', 'email', 'command'] as const;

const alertSchema = z
  .object(alertShape)
  .strict()
  .transform((a, ctx): AlertSpec => {
    const kinds = KIND_KEYS.filter((k) => a[k] !== undefined);
    if (kinds.length !== 1) {
      ctx.addIssue({
        code: 'custom',
        message:
          kinds.length === 0
            ? 'an alert needs one of `webhook:`, `email:` or `command:`'
            : `an alert is one of webhook, email or command, not ${kinds.join(' and ')}: make one list entry for each`,
      });
      return z.NEVER;
    }
    let target: AlertTarget;
    if (a.webhook) target = { kind: 'webhook', url: a.webhook.url ?? null, urlEnv: a.webhook.url_env ?? null };
    else if (a.email) {
      const tls = a.email.smtp.tls ?? 'starttls';
      target = {
        kind: 'email',
        to: typeof a.email.to === 'string' ? [a.email.to] : a.email.to,
        from: a.email.from ?? null,
        subject: a.email.subject ?? null,
        smtp: {
          host: a.email.smtp.host,
          port: a.email.smtp.port ?? (tls === 'implicit' ? 465 : tls === 'none' ? 25 : 587),
          tls,
          userEnv: a.email.smtp.user_env ?? null,
          passwordEnv: a.email.smtp.password_env ?? null,
        },
      };
    } else target = { kind: 'command', argv: a.command! };
    return {
      target,
      timeoutMs: a.timeout ?? ALERT_DEFAULTS.timeoutMs,
      retries: a.retries ?? ALERT_DEFAULTS.retries,
      retryDelayMs: a.retry_delay ?? ALERT_DEFAULTS.retryDelayMs,
      reportFile: a.report_file ?? null,
    };
  });

const alertList = (when: string) =>
  z
    .array(alertSchema, { error: 'must be a list of alerts, e.g. [{ webhook: { url_env: SLACK_WEBHOOK_URL } }]' })
    .describe(`alerts sent ${when}: each one of webhook, email or command`);

/**
 * The four alert keys. At task level (and in default_args) they are about the
 * task; at DAG level on_failure / on_success / on_dq_warning are about the run
 * (sent once when it ends) and on_retry about any task of it.
 */
export function alertKeysShape(level: 'task' | 'dag') {
  const task = level === 'task';
  return {
    on_failure: alertList(task ? "when the task's last try fails" : 'when the run fails').optional(),
    on_retry: alertList(task ? 'when a try fails and the task is up_for_retry' : 'when any task goes up_for_retry').optional(),
    on_success: alertList(task ? 'when the task succeeds' : 'when the run succeeds').optional(),
    on_dq_warning: alertList(
      task ? 'when the task succeeds with failed warn-severity checks' : 'when the run ends with failed warn-severity checks',
    ).optional(),
  };
}

/** The allowed keys at a path inside an alert list (for "did you mean"); undefined elsewhere. */
export function alertKnownKeys(rel: readonly PathKey[]): string[] | undefined {
  const i = rel.findIndex((k) => typeof k === 'string' && (ALERT_EVENTS as readonly string[]).includes(k));
  if (i < 0 || typeof rel[i + 1] !== 'number') return undefined;
  const inner = rel.slice(i + 2);
  if (inner.length === 0) return ALERT_KEYS;
  if (inner.length === 1 && inner[0] === 'webhook') return Object.keys(webhookShape);
  if (inner.length === 1 && inner[0] === 'email') return Object.keys(emailShape);
  if (inner.length === 2 && inner[0] === 'email' && inner[1] === 'smtp') return Object.keys(smtpShape);
  return undefined;
}
