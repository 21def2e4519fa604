// A plain Node HTTP server that verifies phone numbers with otp-sms-verify.
//
//   bash scripts/build-pkg.sh && node examples/node-server.mjs     (PORT=3000 by default)
//   curl -s localhost:3000/send -d '{"phoneNumber":"+33612424111"}'
//   curl -s localhost:3000/verify -d '{"otpId":"<otpId>","pin":"<pin from the dev outbox>"}'
//
// Records live in memory (MemoryStore). There is no SMS gateway: the sender prints each
// message to this console as the DEV OUTBOX, PIN included, so that you can try it. A real
// sender hands the message to a gateway and never logs its text.

import { randomBytes } from "node:crypto";
import http from "node:http";
import { MemoryStore, OtpError, OtpService, parsePhone } from "otp-sms-verify";

const port = Number(process.env.PORT ?? 3000);
// Server PIN key(s), newest first. A random key per start is fine for a demo; a real
// server reads its keys from a secret store so that restarts keep OTPs verifiable.
const keys = process.env.OTP_PIN_KEY ? [process.env.OTP_PIN_KEY] : [randomBytes(32).toString("base64")];

const devOutbox = {
  async send(message) {
    const to = parsePhone(message.to).masked;
    console.log(`[DEV OUTBOX, not for production] SMS to ${to}: ${message.text}`);
  },
};

const otp = new OtpService({
  store: new MemoryStore(),
  sender: devOutbox,
  keys,
  settings: {
    brand: "Example",
    template: "{{brand}} code: {{pin}}. Valid for {{ttl}} minutes.",
    ttl: 300,
    maxAttempts: 3,
  },
  onStatusChange: (view) => console.log(`OTP ${view.otpId} to ${view.phoneNumber} is now ${view.status}`),
});

const routes = {
  "/send": async (body) => [201, await otp.send({ phoneNumber: body.phoneNumber, countryIso: body.countryIso })],
  "/verify": async (body) => [200, await otp.verify(body.otpId, body.pin)],
};

async function readJson(req) {
  let text = "";
  for await (const chunk of req) {
    text += chunk;
    if (text.length > 16_384) throw new SyntaxError("body too large");
  }
  const body = JSON.parse(text || "{}");
  if (typeof body !== "object" || body === null || Array.isArray(body)) throw new SyntaxError("not an object");
  return body;
}

const server = http.createServer(async (req, res) => {
  const reply = (status, value) => {
    res.writeHead(status, { "content-type": "application/json" });
    res.end(JSON.stringify(value));
  };
  const route = routes[req.url];
  if (!route) return reply(404, { error: { message: "not found" } });
  if (req.method !== "POST") return reply(405, { error: { message: "use POST" } });
  try {
    const [status, value] = await route(await readJson(req));
    reply(status, value);
  } catch (error) {
    if (error instanceof OtpError) return reply(error.httpStatus, { error: error.toJSON() });
    if (error instanceof SyntaxError) return reply(400, { error: { message: "send a JSON object" } });
    console.error(error);
    reply(500, { error: { message: "internal error" } });
  }
});

server.listen(port, "127.0.0.1", () => {
  console.log(`listening on http://127.0.0.1:${server.address().port}`);
});
for (const signal of ["SIGINT", "SIGTERM"]) process.on(signal, () => server.close(() => process.exit(0)));
