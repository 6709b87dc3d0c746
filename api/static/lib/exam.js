// The public page's online exam application, the parts that need no page: which sessions
// a person can still apply for, and what each answer of
// POST /v1/exam-sessions/{id}/applications means to them. Tested by tests/js/exam.test.mjs.

/**
 * @typedef {{id: number, sits_on: string, venue: string, district: string,
 *            capacity: number, registered: number, seats_left: number}} ExamSession
 * @typedef {{kind: "code-sent" | "registered" | "code-not-taken" | "refused",
 *            text: string}} Outcome
 */

/** Today's date in China (UTC+8), as YYYY-MM-DD: the registry decides "over" in that zone. */
export function chinaToday(now = new Date()) {
  return new Date(now.getTime() + 8 * 3600 * 1000).toISOString().slice(0, 10);
}

/**
 * The sessions a person can apply for: not over (sits on or after `today`) and with a seat
 * left, soonest first, each once (the page asks for this year and the next).
 * @param {ExamSession[]} items
 * @param {string} today YYYY-MM-DD
 * @returns {ExamSession[]}
 */
export function openSessions(items, today) {
  /** @type {Map<number, ExamSession>} */
  const byId = new Map();
  for (const s of items) if (s.sits_on >= today && s.seats_left > 0) byId.set(s.id, s);
  return [...byId.values()].sort((a, b) => a.sits_on.localeCompare(b.sits_on) || a.id - b.id);
}

/** @param {ExamSession} s */
export function sessionLabel(s) {
  return `${s.sits_on} · ${s.venue}（${s.district}）· 余 ${s.seats_left} 席 · ${s.seats_left} seats left`;
}

/**
 * What an answer to an application means. `withCode`: the person sent a confirmation code.
 * A 202 to a code is the same answer as to no code (a wrong or expired code says nothing
 * about the person), so the page words it neutrally. Problems (4xx) keep the server's
 * words: `detail`, else `title`.
 * @param {number} status
 * @param {any} body the parsed JSON answer, or null
 * @param {boolean} withCode
 * @returns {Outcome}
 */
export function applicationOutcome(status, body, withCode) {
  if (status === 201 && body && body.registration_code) {
    return { kind: "registered",
             text: "报名成功。请保存报名码（只显示这一次），下载准考证时需要它和身份证号 · "
                 + "You are registered. Keep this registration code (shown once): you need it "
                 + "with your ID number for the admission ticket." };
  }
  if (status === 202 && withCode) {
    return { kind: "code-not-taken",
             text: "如果确认码正确，您现在已经拿到报名码。请核对确认码，或重新获取 · "
                 + "If the code was right you would have your registration now; check the "
                 + "code or ask for a new one." };
  }
  if (status === 202) {
    const minutes = body && body.code_expires_in_s ? Math.floor(body.code_expires_in_s / 60) : 0;
    const valid = minutes ? `（${minutes} 分钟内有效）` : "";
    const validEn = minutes ? ` (valid for ${minutes} minutes)` : "";
    return { kind: "code-sent",
             text: `申请已收到。如果您可以报名，确认码将以短信发送${valid}，请在下面填写 · `
                 + `Application received. If you can apply, a confirmation code is texted to `
                 + `you${validEn}; enter it below.` };
  }
  const said = body && (body.detail || body.title);
  return { kind: "refused", text: said || "HTTP " + status };
}
