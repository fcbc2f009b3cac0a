/**
 * The three ways an alert goes out: a webhook POST (Node's fetch), an email
 * through SMTP (nodemailer, loaded when the first email is sent) or a command
 * (a process, no shell). Each send takes an AbortSignal: the alert's timeout
 * aborts the request, closes the SMTP connection or kills the process.
 *
 * Secrets come from environment variables named in the DAG file, read here
 * at send time, registered with the redactor before anything can print them.
 */
import { spawn } from 'node:child_process';
import os from 'node:os';
import type { AlertTarget } from '../interfaces.js';
import { AlertConfigError, errorMessage } from '../errors.js';
import { redactText, registerSecret } from '../redact.js';

/** What one send needs besides its target. */
export interface Message {
  /** The JSON body of a webhook, and the stdin of a command. */
  body: Record<string, unknown>;
  subject: string;
  /** The plain-text body of an email. */
  text: string;
  /** The rendered argv of a command. */
  argv?: string[];
}

/** Reads a variable named in the DAG file; says which and how to set it when it is missing. */
export function fromEnv(name: string, what: string, env: NodeJS.ProcessEnv): string {
  const v = env[name];
  if (v === undefined || v === '') {
    throw new AlertConfigError(`environment variable ${name} (${what}) is not set: export ${name}=... where the run executes`);
  }
  return v;
}

/**
 * A webhook URL as logs show it: scheme and host only. A Slack or Teams
 * webhook URL is a credential (its path holds the token), so its path and
 * query are registered as secrets and never printed.
 */
export function maskedUrl(url: string): string {
  try {
    const u = new URL(url);
    const hidden = `${u.pathname}${u.search}`;
    if (hidden.length > 1) {
      registerSecret(hidden);
      registerSecret(url);
    }
    return `${u.protocol}//${u.host}${hidden.length > 1 ? '/***' : ''}`;
  } catch {
    registerSecret(url);
    return '(an unparsable URL)';
  }
}

/** The URL of a webhook target (literal or from its variable). */
export function webhookUrl(t: Extract<AlertTarget, { kind: 'webhook' }>, env: NodeJS.ProcessEnv): string {
  const url = t.url ?? fromEnv(t.urlEnv!, 'the webhook URL', env);
  if (!/^https?:\/\//i.test(url)) {
    maskedUrl(url);
    throw new AlertConfigError(`the webhook URL in ${t.urlEnv ?? 'url'} must start with http:// or https://`);
  }
  return url;
}

/** The cause under fetch's "fetch failed": ECONNREFUSED, a DNS error, a TLS error. */
function describeFetchError(err: unknown): string {
  const cause = (err as { cause?: { code?: string; message?: string } }).cause;
  const why = cause?.code ?? cause?.message;
  return why ? `${errorMessage(err)}: ${why}` : errorMessage(err);
}

async function sendWebhook(url: string, m: Message, signal: AbortSignal): Promise<string> {
  let res: Response;
  try {
    res = await fetch(url, {
      method: 'POST',
      headers: { 'content-type': 'application/json', 'user-agent': 'sluice-alerts' },
      body: JSON.stringify(m.body),
      signal,
      redirect: 'error',
    });
  } catch (err) {
    if (signal.aborted) throw signal.reason;
    throw new Error(describeFetchError(err), { cause: err });
  }
  const reply = (await res.text().catch(() => '')).slice(0, 200);
  if (!res.ok) throw new Error(`HTTP ${res.status} ${res.statusText}${reply ? `: ${reply}` : ''}`);
  return `HTTP ${res.status}`;
}

type Nodemailer = typeof import('nodemailer');
let nodemailerModule: Promise<Nodemailer> | undefined;

async function sendEmail(
  t: Extract<AlertTarget, { kind: 'email' }>,
  m: Message,
  signal: AbortSignal,
  timeoutMs: number,
  env: NodeJS.ProcessEnv,
): Promise<string> {
  const { smtp } = t;
  const user = smtp.userEnv ? fromEnv(smtp.userEnv, 'the SMTP user', env) : undefined;
  const pass = smtp.passwordEnv ? fromEnv(smtp.passwordEnv, 'the SMTP password', env) : undefined;
  registerSecret(pass);
  if (pass !== undefined && user === undefined) {
    throw new AlertConfigError('the SMTP settings name password_env but no user_env: add `user_env: VAR` naming the SMTP user');
  }
  const nodemailer = await (nodemailerModule ??= import('nodemailer'));
  const transport = nodemailer.createTransport({
    host: smtp.host,
    port: smtp.port,
    secure: smtp.tls === 'implicit',
    requireTLS: smtp.tls === 'starttls',
    ignoreTLS: smtp.tls === 'none',
    auth: user !== undefined ? { user, pass } : undefined,
    connectionTimeout: timeoutMs,
    greetingTimeout: timeoutMs,
    socketTimeout: timeoutMs,
  });
  const close = () => transport.close();
  signal.addEventListener('abort', close, { once: true });
  try {
    const info = (await transport.sendMail({
      from: t.from ?? `sluice@${os.hostname()}`,
      to: t.to,
      subject: m.subject,
      text: m.text,
    })) as { messageId?: string; accepted?: unknown[] };
    return `accepted by ${smtp.host}:${smtp.port} for ${(info.accepted ?? t.to).length} recipient(s)`;
  } finally {
    signal.removeEventListener('abort', close);
    close();
  }
}

async function runCommand(argv: string[], m: Message, signal: AbortSignal, env: NodeJS.ProcessEnv): Promise<string> {
  const [program, ...args] = argv;
  return new Promise<string>((resolve, reject) => {
    const child = spawn(program!, args, {
      stdio: ['pipe', 'ignore', 'pipe'],
      signal,
      env: { ...env, SLUICE_ALERT_EVENT: String(m.body.event), SLUICE_RUN_ID: String(m.body.run_id) },
    });
    let stderr = '';
    child.stderr!.on('data', (d: Buffer) => {
      if (stderr.length < 2000) stderr += d.toString('utf8');
    });
    child.stdin!.on('error', () => undefined); // a command that does not read its stdin
    child.stdin!.end(JSON.stringify(m.body));
    child.on('error', (err) => {
      if (signal.aborted) reject(signal.reason);
      else reject(new Error(`cannot run ${program}: ${errorMessage(err)}`));
    });
    child.on('close', (code, sig) => {
      if (code === 0) resolve('exit 0');
      else {
        const tail = stderr.trim().split('\n').slice(-3).join(' | ');
        reject(new Error(`${program} ended with ${code === null ? `signal ${sig}` : `exit ${code}`}${tail ? `: ${tail}` : ''}`));
      }
    });
  });
}

/** Sends one attempt; resolves with a short description of the answer (HTTP 200, exit 0, ...). */
export async function sendOnce(
  t: AlertTarget,
  m: Message,
  signal: AbortSignal,
  timeoutMs: number,
  env: NodeJS.ProcessEnv,
): Promise<string> {
  if (t.kind === 'webhook') return sendWebhook(webhookUrl(t, env), m, signal);
  if (t.kind === 'email') return sendEmail(t, m, signal, timeoutMs, env);
  return runCommand(m.argv ?? t.argv, m, signal, env);
}

/** Where an alert goes, as logs say it (no secret: a webhook shows its host only). */
export function describeTarget(t: AlertTarget, env: NodeJS.ProcessEnv): string {
  if (t.kind === 'webhook') {
    if (t.url !== null) return `webhook ${maskedUrl(t.url)}`;
    const v = env[t.urlEnv!];
    return `webhook $${t.urlEnv}${v ? ` (${maskedUrl(v)})` : ''}`;
  }
  if (t.kind === 'email') return `email to ${t.to.join(', ')} via ${t.smtp.host}:${t.smtp.port}`;
  return `command ${redactText(t.argv[0]!)}`;
}
