// Source of the OpenAPI 3.1 document of the HTTP API. `node api/openapi.mjs`
// writes api/openapi.json, which the worker serves at /openapi.json and
// tests/worker/openapi.test.mjs checks against the routes (and schemathesis fuzzes).
// Written as code so shared pieces (errors, auth, the OTP object) are defined once.

import { writeFileSync } from "node:fs";
import { fileURLToPath } from "node:url";

const ref = (name) => ({ $ref: `#/components/schemas/${name}` });
const json = (schema) => ({ "application/json": { schema } });

/** A reply with a JSON body. */
const reply = (description, schema) => ({ description, content: json(schema) });
/** The SMS.CX error reply. */
const error = (description) => reply(description, ref("Error"));

/** The error replies every authenticated API operation may give. */
const commonErrors = {
  400: error("Bad input: a core rule (2001-2115) or a malformed body (1000)"),
  401: error("Missing or invalid credentials (1601-1603)"),
  403: error("The token lacks the scope (1604)"),
  413: error("Body over 16 KiB (1002)"),
  415: error("Body is not JSON (1003)"),
  503: error("Storage unavailable (1005), SMS gateway not configured (3005) or busy (3008)"),
};

/** A refusal by a rate limit: 429 with Retry-After and X-Rate-Limit-* (1007). */
const rateLimited = (schema = ref("Error")) => ({
  description: "Rate limited (1007); Retry-After and X-Rate-Limit-Limit/Remaining/Reset say when to retry",
  headers: {
    "Retry-After": { schema: { type: "integer" } },
    "X-Rate-Limit-Limit": { schema: { type: "integer" } },
    "X-Rate-Limit-Remaining": { schema: { type: "integer" } },
    "X-Rate-Limit-Reset": { schema: { type: "integer" } },
  },
  content: json(schema),
});

// --- Dexatel dialect ---------------------------------------------------------------
const dxError = (description) => reply(description, ref("DexatelError"));
/** The admin routes over the Dexatel stores: the app's errors in SMS.CX's shape, the items' in Dexatel's. */
const anyError = (description) => reply(description, { oneOf: [ref("Error"), ref("DexatelError")] });
const dxAuth = [{ dexatelKey: [] }];
const dxCommon = {
  400: dxError("Bad input (Dexatel codes 1251-1263, 1402-1441, 1505-1696; 1000 malformed JSON)"),
  401: dxError("Missing or invalid X-Dexatel-Key (1601, 1602)"),
  413: dxError("Body over 16 KiB (1002)"),
  415: dxError("Body is not JSON (1003)"),
  503: dxError("Storage unavailable (1005)"),
};
const dxData = (schema) => ({ type: "object", required: ["data"], properties: { data: schema } });
const dxList = (item) => ({
  type: "object",
  required: ["data", "pagination"],
  properties: { data: { type: "array", items: item }, pagination: ref("DexatelPagination") },
});
const pageParams = [
  { name: "page_size", in: "query", required: false, schema: { type: "integer", minimum: 1, maximum: 100 } },
  { name: "page_token", in: "query", required: false, schema: { type: "string" } },
];
const idParam = { name: "id", in: "path", required: true, schema: { type: "string" } };


const uuid = { type: "string", format: "uuid", pattern: "^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$" };
const otpIdParam = { name: "otpId", in: "path", required: true, schema: { type: "string" }, description: "The OTP's UUID" };
/** The end user's address, stated by a server caller for the per-IP caps (malformed: 400, 1030). */
const endUserIpParam = {
  name: "X-End-User-Ip",
  in: "header",
  required: false,
  schema: { type: "string", examples: ["203.0.113.7", "2001:db8:1:2::1"] },
  description:
    "The end user's IPv4 or IPv6 address (IPv6 is capped by its /64). Without it a server credential gets no per-IP cap: its own address is shared by all its users.",
};
const appIdParam = { name: "appId", in: "path", required: true, schema: { type: "string" }, description: "The application's UUID" };
const apiAuth = [{ apiKey: [] }, { bearer: [] }];
const adminAuth = [{ admin: [] }];
const dateTime = { type: "string", pattern: "^\\d{4}-\\d{2}-\\d{2} \\d{2}:\\d{2}:\\d{2}$", description: "UTC YYYY-MM-DD HH:MM:SS" };

const schemas = {
  Error: {
    type: "object",
    required: ["error"],
    properties: {
      error: {
        type: "object",
        required: ["type", "message", "uri", "code"],
        properties: {
          type: { type: "string", examples: ["invalid_param"] },
          message: { type: "string" },
          uri: { type: "string", description: "The request path" },
          code: { type: "integer", description: "Stable error code: SMS.CX's documented code for the violation where it has one (see the table in the description)" },
          reason: {
            type: "string",
            pattern: "^[a-z0-9_]+$",
            description: "The precise cause of a refusal by the core's rules (several causes share one SMS.CX code), e.g. phone_number_too_short",
          },
        },
      },
    },
  },
  DexatelError: {
    type: "object",
    required: ["errors"],
    properties: {
      errors: {
        type: "array",
        items: {
          type: "object",
          required: ["timestamp", "path", "method", "status", "message", "code"],
          properties: {
            timestamp: dateTime,
            path: { type: "string" },
            method: { type: "string" },
            status: { type: "integer" },
            message: { type: "string" },
            code: { type: "integer" },
          },
        },
      },
    },
  },
  DexatelPagination: {
    type: "object",
    required: ["number", "size", "total", "links"],
    properties: {
      number: { type: "integer" },
      size: { type: "integer" },
      total: { type: "integer" },
      links: {
        type: "object",
        properties: {
          first: { type: "string" },
          current: { type: "string" },
          previous: { type: ["string", "null"] },
          next: { type: ["string", "null"] },
        },
      },
    },
  },
  DexatelChannel: { enum: ["SMS", "VIBER", "WHATSAPP"] },
  DexatelVerification: {
    type: "object",
    required: ["id", "account_id", "message_id", "phone", "channel", "status", "create_date", "expire_date"],
    properties: {
      id: uuid,
      account_id: { type: "string" },
      message_id: { type: "string" },
      phone: { type: "string", pattern: "^[0-9]{7,15}$" },
      channel: { const: "SMS" },
      status: ref("OtpStatus"),
      create_date: dateTime,
      expire_date: dateTime,
    },
  },
  DexatelCreateVerification: {
    type: "object",
    properties: {
      data: {
        type: "object",
        properties: {
          sender: { type: "string" },
          phone: { type: "string", description: "digits with country code, no +" },
          template: { type: "string", description: "a template id of the application" },
          code_length: { type: ["integer", "string"], description: "4-8" },
          code: { type: "string", description: "custom numeric code, 4-8 digits" },
          channel: { type: "string" },
        },
      },
    },
  },
  DexatelTemplate: {
    type: "object",
    required: ["id", "account_id", "text", "channel", "status", "create_date", "update_date"],
    properties: {
      id: { type: "string" },
      account_id: { type: "string" },
      name: { type: ["string", "null"] },
      text: { type: "string" },
      channel: ref("DexatelChannel"),
      status: { type: "string" },
      create_date: dateTime,
      update_date: dateTime,
    },
  },
  DexatelTemplateInput: {
    type: "object",
    properties: {
      data: { type: "object", properties: { name: { type: "string" }, text: { type: "string", description: "must contain {code}" }, channel: { type: "string" } } },
    },
  },
  DexatelSender: {
    type: "object",
    required: ["id", "account_id", "name", "code", "channel", "type", "status", "create_date"],
    properties: {
      id: { type: "string" },
      account_id: { type: "string" },
      name: { type: "string" },
      code: { type: "string" },
      channel: ref("DexatelChannel"),
      type: { type: "string" },
      status: { type: "string" },
      create_date: dateTime,
    },
  },
  DexatelSenderInput: {
    type: "object",
    properties: {
      data: {
        type: "object",
        properties: { name: { type: "string" }, code: { type: "string" }, channel: { type: "string" }, type: { type: "string" } },
      },
    },
  },
  Health: {
    type: "object",
    required: ["status", "service", "version"],
    properties: { status: { const: "ok" }, service: { type: "string" }, version: { type: "string" } },
  },
  Token: {
    type: "object",
    required: ["access_token", "token_type", "expires_in", "scope"],
    properties: {
      access_token: { type: "string" },
      token_type: { const: "Bearer" },
      expires_in: { type: "integer", minimum: 60 },
      scope: { type: "string" },
    },
  },
  OtpStatus: { enum: ["PENDING", "VERIFIED", "FAILED", "EXPIRED", "CANCELLED"] },
  PinType: { enum: ["numbers", "letters", "alphanumeric"] },
  Otp: {
    type: "object",
    description: "SMS.CX's OTP object (DataOtp)",
    required: ["otpId", "trackId", "phoneNumber", "countryIso", "status", "cost", "parts", "maxAttempts", "attempts", "ttl", "otpCallbackUrl", "dateCreated", "dateExpires"],
    properties: {
      otpId: uuid,
      trackId: { type: ["string", "null"] },
      phoneNumber: { type: "string", description: "E.164 in the create reply; masked afterwards" },
      countryIso: { type: "string", pattern: "^[A-Z]{2}$" },
      status: ref("OtpStatus"),
      cost: { type: "number", minimum: 0 },
      parts: { type: "integer", minimum: 1 },
      maxAttempts: { type: "integer", minimum: 1, maximum: 10 },
      attempts: { type: "integer", minimum: 0, maximum: 10 },
      ttl: { type: "integer", minimum: 60, maximum: 1800 },
      otpCallbackUrl: { type: ["string", "null"] },
      dateCreated: dateTime,
      dateExpires: dateTime,
    },
  },
  CreateOtp: {
    type: "object",
    description: "Each field overrides the application's default. Numbers may also come as numeric strings.",
    required: ["phoneNumber"],
    properties: {
      phoneNumber: { type: "string", description: "E.164, or national together with countryIso" },
      countryIso: { type: "string" },
      from: { type: "string", description: "Sender id, 3-15 characters (alphanumeric: at most 11)" },
      template: { type: "string", description: "Must contain {{pin}}" },
      trackId: { type: "string" },
      ttl: { type: ["integer", "string"], description: "60-1800 seconds" },
      maxAttempts: { type: ["integer", "string"], description: "1-10" },
      pinType: { type: "string" },
      pinLength: { type: ["integer", "string"], description: "4-10" },
      otpCallbackUrl: { type: "string" },
      language: { type: "string", description: "2-letter language of the SMS text" },
    },
  },
  VerifyOtp: {
    type: "object",
    properties: { pin: { type: ["string", "integer", "null"] } },
  },
  Verified: { type: "object", required: ["status"], properties: { status: { const: "VERIFIED" } } },
  Info: {
    type: "object",
    required: ["info"],
    properties: { info: { type: "object", required: ["id"], properties: { id: { type: "string" } } } },
  },
  AppBlock: {
    type: "object",
    description: "A fraud guard block in force, with its application",
    required: ["appId", "name", "scope", "key", "reason", "since", "until", "level", "enforced"],
    properties: {
      appId: { type: "string" },
      name: { type: "string" },
      scope: { enum: ["range", "country"] },
      key: { type: "string", description: "The range's digits or the country's code" },
      reason: { enum: ["range_low_conversion", "range_burst", "country_anomaly", "manual_block"] },
      since: { type: "integer", description: "Unix seconds" },
      until: { type: "integer", description: "Unix seconds" },
      level: { type: "integer", description: "1 a first block, 2 a repeat, …; 0 a manual one" },
      enforced: { type: "boolean", description: "false: shadow mode only records it" },
    },
  },
  WebhookDelivery: {
    type: "object",
    description: "One webhook delivery (a status callback, an EXPIRED callback or a test event) and its result. Only the receiver's host is kept, never the URL's path or query, nor the secret.",
    required: ["webhookId", "at", "date", "event", "kind", "host", "outcome", "attempts"],
    properties: {
      webhookId: { type: "string", description: "The webhook-id header of the event (the same on every attempt)" },
      at: { type: "integer", description: "When the first attempt started (Unix seconds)" },
      date: dateTime,
      event: { enum: ["otp_update", "test"] },
      kind: { enum: ["status", "expired", "test"], description: "status: a change answered to a request (VERIFIED, FAILED, CANCELLED); expired: sent by the record's alarm; test: POST .../webhooks/test" },
      otpId: { type: "string" },
      otpStatus: { type: "string", description: "The status the callback reports" },
      host: { type: "string", description: "The receiver's host and port" },
      outcome: { enum: ["delivered", "failed", "not_sent"], description: "delivered: a 2xx; failed: every attempt failed or the receiver refused it; not_sent: the URL or secret is refused by the policy" },
      httpStatus: { type: "integer", description: "The last attempt's HTTP status, if it got one" },
      error: { type: "string", description: "timeout, unreachable or invalid-url for an attempt without status; the policy's reason when not sent" },
      attempts: { type: "integer", minimum: 0, maximum: 4 },
      latencyMs: { type: "integer", minimum: 0, description: "The last attempt's time to its status or error" },
    },
  },
  Gateway: {
    type: "object",
    required: ["type"],
    properties: {
      type: { enum: ["outbox", "webhook", "twilio", "vonage", "smscx", "dexatel", "plivo", "sinch", "infobip"] },
      url: { type: "string", description: "webhook only" },
      messagingServiceSid: { type: "string", description: "twilio only" },
      credentials: {
        type: "string",
        pattern: "^[A-Z0-9_]{1,32}$",
        description: "Named credentials: the provider's secrets are read with this suffix (TWILIO_AUTH_TOKEN_EU for EU); not for outbox and webhook",
      },
    },
  },
  SettingState: {
    type: "object",
    additionalProperties: false,
    required: ["name", "secret", "required", "receipts", "configured"],
    description: "A secret or var a gateway reads, and whether it is set: never its value (a var's neither: a var may have been set as a secret)",
    properties: {
      name: { type: "string", description: "The name it is read by: suffixed for named credentials (TWILIO_AUTH_TOKEN_EU); an *_API_BASE var falls back to the plain name when only that one is set" },
      secret: { type: "boolean", description: "A secret (wrangler secret put), else a var" },
      required: { type: "boolean", description: "Sends fail without it (3005)" },
      receipts: { type: "boolean", description: "Used for delivery receipts only (VONAGE_SIGNATURE_SECRET, DEXATEL_WEBHOOK_SECRET)" },
      configured: { type: "boolean" },
    },
  },
  GatewayStatus: {
    description: "A gateway (its configuration, the route's sender through it) with what it reads from the environment",
    allOf: [
      ref("Gateway"),
      {
        type: "object",
        required: ["ready", "settings"],
        properties: {
          from: { type: "string", description: "The route's sender through it" },
          ready: { type: "boolean", description: "Whether it can send: every required secret set; the outbox in development only; a webhook URL the deployment allows" },
          problem: { type: "string", description: "Why it cannot send, when not ready" },
          settings: { type: "array", items: ref("SettingState") },
        },
      },
    ],
  },
  TestSmsAttempt: {
    type: "object",
    additionalProperties: false,
    required: ["gateway", "outcome"],
    description: "One gateway tried by a test SMS",
    properties: {
      gateway: { type: "string", description: "The gateway type" },
      credentials: { type: "string" },
      from: { type: "string", description: "The route's sender through it, when the route sets one" },
      outcome: { enum: ["accepted", "unknown", "not_accepted"], description: "unknown: it may have taken the message (no reply in time, a 5xx but 503, an unreadable success): nothing else is tried" },
      code: { type: "integer", description: "The gateway error's code (3001-3008) when not accepted" },
      detail: { type: "string", description: "What happened, as the log says it: HTTP status, the provider's error code, the name of a missing setting; never a secret, the number or the text" },
    },
  },
  TestSmsResult: {
    type: "object",
    additionalProperties: false,
    required: ["accepted", "outcome", "phoneNumber", "countryIso", "numberType", "from", "encoding", "units", "parts", "cost", "attempts"],
    properties: {
      accepted: { type: "boolean", description: "A gateway took the SMS" },
      outcome: { enum: ["accepted", "unknown", "not_sent", "test_number"], description: "unknown: a gateway may have taken it (never sent again); not_sent: no gateway took it (error says why; what it took from the caps is given back); test_number: one of the app's test numbers, which never get an SMS" },
      gateway: { type: "string", description: "The gateway that took it (or may have)" },
      credentials: { type: "string" },
      messageId: { type: "string", description: "The provider's id of the message, when its reply had one" },
      phoneNumber: { type: "string", description: "The destination in E.164" },
      countryIso: { type: "string" },
      numberType: { type: "string", description: "The number's type by the numbering plan (mobile, fixedLineOrMobile, …)" },
      from: { type: "string", description: "The application's sender (a route may send through another: see attempts)" },
      encoding: { enum: ["GSM-7", "UCS-2"] },
      units: { type: "integer", description: "Septets (GSM-7) or UTF-16 units (UCS-2)" },
      parts: { type: "integer", minimum: 1 },
      cost: { type: "number", description: "parts × the app's price for the country" },
      attempts: { type: "array", items: ref("TestSmsAttempt") },
      error: { type: "object", required: ["code", "message"], properties: { code: { type: "integer" }, message: { type: "string" } }, description: "When not sent: the last gateway's error, as a send would answer it" },
    },
  },
  GatewayStep: {
    description: "A gateway of a route, with the sender to use through it",
    allOf: [ref("Gateway"), { type: "object", properties: { from: { type: "string", description: "Sender through this gateway (3-15 characters, alphanumeric at most 11)" } } }],
  },
  Route: {
    type: "object",
    additionalProperties: false,
    required: ["gateways"],
    description: "Destinations (countries or E.164 prefixes; neither: the default route, last) and their gateways, first choice first (the rest are the failover)",
    properties: {
      countries: { type: "array", maxItems: 250, items: { type: "string", pattern: "^[A-Z]{2}$" } },
      prefixes: { type: "array", maxItems: 250, items: { type: "string", pattern: "^\\+[0-9]{1,15}$" } },
      gateways: { type: "array", minItems: 1, maxItems: 5, items: ref("GatewayStep") },
    },
  },
  Routes: {
    type: "array",
    maxItems: 50,
    items: ref("Route"),
    description: "Ordered: the first route matching the destination's country or a prefix of its number is used; none matching: the app's gateway",
  },
  ReceiptOutcome: {
    type: "object",
    required: ["recorded", "unchanged"],
    properties: {
      recorded: { type: "integer", description: "Reports that set a new final status" },
      unchanged: { type: "integer", description: "Reports that changed nothing (replays, intermediate statuses)" },
    },
  },
  OtpSettings: {
    type: "object",
    properties: {
      template: { type: ["string", "null"] },
      languageTemplates: {
        type: "array",
        items: {
          type: "object",
          required: ["language", "template"],
          properties: { language: { type: "string" }, prefixes: { type: "array", items: { type: "string" } }, template: { type: "string" } },
        },
      },
      originator: { type: "string" },
      pinType: ref("PinType"),
      pinLength: { type: "integer" },
      ttl: { type: "integer" },
      maxAttempts: { type: "integer" },
      callbackUrl: { type: ["string", "null"] },
      prices: {
        type: "object",
        properties: { default: { type: "number" }, countries: { type: "object", additionalProperties: { type: "number" } } },
      },
      brand: { type: "string" },
      webotpDomain: { type: ["string", "null"] },
    },
  },
  AppInput: {
    type: "object",
    additionalProperties: false,
    properties: {
      name: { type: "string" },
      gateway: ref("Gateway"),
      routes: ref("Routes"),
      otp: ref("OtpSettings"),
      dexatel: ref("DexatelSettings"),
      limits: ref("SendPolicy"),
      fraudGuard: ref("FraudGuard"),
      policy: ref("AppPolicy"),
    },
  },
  FraudGuard: {
    type: "object",
    description: "The fraud guard against SMS pumping (README: Fraud guard); safeNumbers may be given as E.164 numbers, kept as keyed hashes",
    properties: {
      enabled: { type: "boolean" },
      shadow: { type: "boolean" },
      rangeDigits: { type: "integer" },
      windowHours: { type: "integer" },
      minDecided: { type: "integer" },
      minConversionPercent: { type: "integer" },
      blockSeconds: { type: "integer" },
      maxBlockSeconds: { type: "integer" },
      repeatDays: { type: "integer" },
      burstNumbers: { type: "integer" },
      burstMinutes: { type: "integer" },
      safePrefixes: { type: "array", items: { type: "string" } },
      safeNumbers: { type: "array", items: {} },
    },
  },
  AppPolicy: {
    type: "object",
    properties: {
      lockdown: {
        type: "object",
        properties: { allowedSenders: { type: "array", items: { type: "string" } }, forbidTemplates: { type: "boolean" } },
      },
      testNumbers: {
        type: "array",
        items: { type: "object", required: ["number", "code"], properties: { number: { type: "string" }, code: { type: "string" } } },
      },
    },
  },
  DexatelSettings: {
    type: "object",
    description: "The Dexatel dialect's per-phone guard",
    properties: {
      maxFailedChecks: { type: "integer", minimum: 1, maximum: 10 },
      blockSeconds: { type: "integer", minimum: 60, maximum: 86400 },
      resendCooldownSeconds: { type: "integer", minimum: 0, maximum: 3600 },
      resendPolicy: { enum: ["resend_same", "replace"] },
    },
  },
  SendPolicy: {
    type: "object",
    description: "Rate limits, countries and daily budget; 0 turns a cap off",
    properties: {
      phoneCooldownSeconds: { type: "integer", minimum: 0 },
      phonePerHour: { type: "integer", minimum: 0 },
      phonePerDay: { type: "integer", minimum: 0 },
      appPerMinute: { type: "integer", minimum: 0 },
      ipSendsPerHour: { type: "integer", minimum: 0 },
      ipChecksPerHour: { type: "integer", minimum: 0 },
      allowedCountries: { type: "array", items: { type: "string" } },
      deniedCountries: { type: "array", items: { type: "string" } },
      dailyBudget: { type: "number", minimum: 0 },
      maxParts: { type: "integer", minimum: 0, description: "Parts one message may have (default 3)" },
      countryPartsPerDay: {
        type: "object",
        description: "SMS parts per destination country and UTC day",
        properties: { default: { type: "integer", minimum: 0 }, countries: { type: "object", additionalProperties: { type: "integer" } } },
      },
    },
  },
  App: {
    type: "object",
    required: ["appId", "name", "gateway", "otp", "dateCreated", "dateUpdated"],
    properties: {
      appId: uuid,
      name: { type: "string" },
      gateway: ref("Gateway"),
      routes: ref("Routes"),
      otp: ref("OtpSettings"),
      dexatel: ref("DexatelSettings"),
      limits: ref("SendPolicy"),
      fraudGuard: ref("FraudGuard"),
      policy: ref("AppPolicy"),
      dateCreated: dateTime,
      dateUpdated: dateTime,
      appSecret: { type: "string", description: "Only when created or rotated" },
      apiKey: { type: "string", description: "Only when created or rotated" },
      webhookSecret: { type: "string", description: "Only when created or rotated" },
      receiptToken: { type: "string", description: "Only when created or rotated: authenticates delivery receipts of providers that do not sign theirs" },
    },
  },
  OutboxMessage: {
    type: "object",
    required: ["otpId", "appId", "from", "to", "text", "encoding", "parts", "sentAt"],
    properties: {
      otpId: { type: "string" },
      appId: { type: "string" },
      from: { type: "string" },
      to: { type: "string" },
      text: { type: "string" },
      language: { type: "string" },
      encoding: { enum: ["GSM-7", "UCS-2"] },
      parts: { type: "integer" },
      sentAt: dateTime,
    },
  },
};

/** `POST /dlr/{provider}/{appId}` for each provider that takes delivery receipts. */
function receiptPaths() {
  const how = {
    twilio: "Twilio's status callback (form), signed by X-Twilio-Signature",
    plivo: "Plivo's message status callback (form), signed by X-Plivo-Signature-V3",
    vonage: "Vonage's delivery receipt (GET query, form or JSON): its sig when VONAGE_SIGNATURE_SECRET is set, else ?token=",
    dexatel: "Dexatel's delivery webhook (JSON), signed by X-Dexatel-Signature; found by its message id",
    sinch: "Sinch's recipient delivery report (JSON), with ?token=",
    infobip: "Infobip's delivery reports (JSON results), with ?token=",
    webhook: "The webhook gateway's receiver: {type: sms.status, data: {otpId, messageId?, status, errorCode?}} signed with Standard Webhooks",
  };
  const paths = {};
  for (const [provider, summary] of Object.entries(how)) {
    const operation = {
      tags: ["receipts"],
      summary,
      security: [],
      parameters: [
        appIdParam,
        { name: "otp", in: "query", required: false, schema: { type: "string" }, description: "The otpId (set by the worker in the receipt URL)" },
        { name: "cred", in: "query", required: false, schema: { type: "string" }, description: "Named credentials of the send" },
        { name: "token", in: "query", required: false, schema: { type: "string" }, description: "The app's receipt token (providers that do not sign)" },
      ],
      requestBody: { required: false, content: { "application/json": { schema: {} }, "application/x-www-form-urlencoded": { schema: { type: "object" } } } },
      responses: {
        200: reply("Recorded, or a replay that changed nothing", ref("ReceiptOutcome")),
        400: error("The receipt could not be read (1043)"),
        401: error("Bad or missing signature or token, or unknown application (1041): nothing stored"),
        404: error("No message of the application matches (1042)"),
        413: error("Body over 16 KiB (1002)"),
        503: error("Storage unavailable (1005)"),
      },
    };
    paths[`/dlr/${provider}/{appId}`] = provider === "vonage" ? { post: operation, get: { ...operation, requestBody: undefined } } : { post: operation };
  }
  return paths;
}

// --- Insights (admin; worker/src/insights, worker/src/api/admin/insights.rs) -------------
const day = { type: "string", pattern: "^\\d{4}-\\d{2}-\\d{2}$", description: "UTC day YYYY-MM-DD (inclusive)" };
const nullableString = { type: ["string", "null"] };
const counters = {
  sent: { type: "integer", description: "OTPs whose SMS went out (resends count once)" },
  verified: { type: "integer" },
  failed: { type: "integer" },
  expired: { type: "integer", description: "Recorded by the scheduled sweep once the OTP's TTL passed" },
  cancelled: { type: "integer" },
  refused: { type: "integer", description: "Sends refused before anything was sent (caps, budget, country, guards)" },
  parts: { type: "integer", description: "SMS parts sent, resends included" },
  cost: { type: "number", description: "Sum of the SMS costs (parts × price per part)" },
  conversionRate: { type: ["number", "null"], description: "verified ÷ sent, 4 decimals; null when nothing was sent" },
};
Object.assign(schemas, {
  InsightsCounters: { type: "object", required: Object.keys(counters), properties: counters },
  InsightsStats: {
    type: "object",
    required: ["data", "totals"],
    properties: {
      data: {
        type: "array",
        description: "One group per key: every day of the span for groupBy=day, else the 1,000 groups with most sent",
        items: { type: "object", required: ["key", ...Object.keys(counters)], properties: { key: { type: "string" }, ...counters } },
      },
      totals: ref("InsightsCounters"),
    },
  },
  InsightsVerification: {
    type: "object",
    required: ["otpId", "status", "statusAt", "attempts", "maxAttempts", "sms", "parts", "cost", "test", "dateCreated", "dateExpires"],
    properties: {
      otpId: { type: "string" },
      trackId: nullableString,
      dialect: { type: ["string", "null"], enum: ["smscx", "dexatel", null] },
      countryIso: nullableString,
      phoneNumber: { type: ["string", "null"], description: "The range with its last 4 digits hidden (+3361242****)" },
      range: { type: ["string", "null"], description: "The number without its last 4 digits" },
      status: { enum: ["PENDING", "VERIFIED", "FAILED", "EXPIRED", "CANCELLED", "REFUSED", "UNSENT"] },
      statusAt: dateTime,
      attempts: { type: "integer" },
      maxAttempts: { type: "integer" },
      sms: { type: "integer", description: "SMS sent, resends included" },
      parts: { type: "integer" },
      cost: { type: "number" },
      gateway: nullableString,
      test: { type: "boolean", description: "An OTP to one of the app's test numbers" },
      dateCreated: dateTime,
      dateExpires: dateTime,
    },
  },
  InsightsEvent: {
    type: "object",
    required: ["id", "kind", "at", "sms", "parts", "cost"],
    properties: {
      id: { type: "string" },
      kind: { enum: ["send", "unsent", "check", "refused", "delivery"] },
      at: dateTime,
      otpId: nullableString,
      op: { type: ["string", "null"], description: "refused: send or check" },
      result: { type: ["string", "null"], description: "check: verified or the reason (invalid_pin, otp_expired, …); delivery: delivered, undelivered, failed or unknown" },
      reason: { type: ["string", "null"], description: "refused: rate_limited, country_not_allowed, number_blocked, number_cooldown, range_burst, …; delivery: the provider's error code" },
      code: { type: ["integer", "null"], description: "refused: the error code of the reply" },
      until: { type: ["string", "null"], description: "refused: when a retry can succeed (UTC YYYY-MM-DD HH:MM:SS)" },
      dialect: nullableString,
      countryIso: nullableString,
      range: nullableString,
      gateway: nullableString,
      sms: { type: "integer" },
      parts: { type: "integer" },
      cost: { type: "number" },
    },
  },
});

/** The admin API's insights: stats, verifications (JSON and CSV), events, the dev sweep. */
function insightsPaths() {
  const q = (name, schema, description) => ({ name, in: "query", required: false, schema, description });
  const span = [q("from", day, "First day (default: 29 days before `to`)"), q("to", day, "Last day (default: today)")];
  const page = [q("pageToken", { type: "string" }, "nextPageToken of the previous page"), q("pageSize", { type: "integer", minimum: 1, maximum: 500 }, "Default 100")];
  const includeTest = q("includeTest", { enum: ["true", "false"] }, "Count the test numbers' OTPs (default false)");
  const groupBy = (values) => q("groupBy", { enum: values }, "Default day");
  const errors = {
    400: error("Bad parameter: dates (1019), groupBy (1020), pageToken (1021), status (1022), kind (1023), pageSize (1025), includeTest (1026), phoneNumber (2001-2020)"),
    401: error("Admin token missing or invalid (1012)"),
    503: error("Insights are not configured (1024) or the database is unavailable (1005)"),
  };
  const app = { ...errors, 404: error("No such app (1010)") };
  const stats = (summary, parameters, responses) => ({
    get: { tags: ["insights"], summary, security: adminAuth, parameters, responses: { 200: reply("Counts per group and in all", ref("InsightsStats")), ...responses } },
  });
  const verificationFilters = [
    ...span,
    q("status", { enum: ["PENDING", "VERIFIED", "FAILED", "EXPIRED", "CANCELLED", "REFUSED", "UNSENT"] }),
    q("phoneNumber", { type: "string" }, "A full number (E.164, or national with countryIso), searched through its keyed hash"),
    q("countryIso", { type: "string" }),
    q("trackId", { type: "string" }),
  ];
  const listOf = (item) => ({ type: "object", required: ["data", "nextPageToken"], properties: { data: { type: "array", items: item }, nextPageToken: nullableString } });
  return {
    "/admin/apps/{appId}/stats": {
      parameters: [appIdParam],
      ...stats("An application's OTPs counted by day, country, range or gateway (test numbers left out unless includeTest)", [...span, groupBy(["day", "country", "range", "gateway"]), includeTest], app),
    },
    "/admin/stats": stats("Every application's OTPs counted by day, country, range, gateway or app", [...span, groupBy(["day", "country", "range", "gateway", "app"]), includeTest], errors),
    "/admin/apps/{appId}/verifications": {
      parameters: [appIdParam],
      get: {
        tags: ["insights"],
        summary: "An application's OTPs, newest first, a page at a time",
        security: adminAuth,
        parameters: [...verificationFilters, ...page],
        responses: { 200: reply("A page", listOf(ref("InsightsVerification"))), ...app },
      },
    },
    "/admin/apps/{appId}/verifications.csv": {
      parameters: [appIdParam],
      get: {
        tags: ["insights"],
        summary: "The same OTPs as CSV (RFC 4180, the columns of the JSON list), every page streamed",
        security: adminAuth,
        parameters: [...verificationFilters, page[0]],
        responses: { 200: { description: "CSV", content: { "text/csv": { schema: { type: "string" } } } }, ...app },
      },
    },
    "/admin/apps/{appId}/events": {
      parameters: [appIdParam],
      get: {
        tags: ["insights"],
        summary: "An application's events (sends, sends taken back, checks, refusals with reason, range and until, delivery reports), newest first",
        security: adminAuth,
        parameters: [...span, q("kind", { enum: ["send", "unsent", "check", "refused", "delivery"] }), ...page],
        responses: { 200: reply("A page", listOf(ref("InsightsEvent"))), ...app },
      },
    },
    "/admin/dev/sweep": {
      post: {
        tags: ["insights"],
        summary: "Development only: send an app's shard outboxes to the database, then run the scheduled sweep (EXPIRED, retention) as at `now`",
        security: adminAuth,
        parameters: [q("now", { type: "integer", minimum: 0 }, "Unix seconds (default: the request's clock)"), q("appId", { type: "string" }, "Flush this app's shards first")],
        responses: {
          200: reply("What the sweep did", {
            type: "object",
            required: ["flushed", "now", "expired", "deletedOtps", "deletedEvents"],
            properties: { flushed: { type: "integer" }, now: { type: "integer" }, expired: { type: "integer" }, deletedOtps: { type: "integer" }, deletedEvents: { type: "integer" } },
          }),
          400: error("now is not Unix seconds (1014)"),
          401: error("Admin token missing or invalid (1012)"),
          404: error("Not in development (1013), or no such app (1010)"),
          503: error("Insights are not configured (1024) or the database is unavailable (1005)"),
        },
      },
    },
  };
}

const rotate = (what) => ({
  post: {
    tags: ["admin"],
    summary: `Replace the ${what} (shown once)`,
    security: adminAuth,
    parameters: [appIdParam],
    responses: { 200: reply("The app with the new credential", ref("App")), 401: error("Admin token missing or invalid (1012)"), 404: error("No such app (1010)") },
  },
});

export const openapi = {
  openapi: "3.1.0",
  info: {
    title: "otp-sms-verify",
    version: "0.1.0",
    description:
      "Self-hostable OTP SMS verification, wire-compatible with SMS.CX's OTP API and Dexatel's Verify API. " +
      "Errors are {\"error\": {type, message, uri, code, reason?}} with stable codes; `reason` names the precise cause of a refusal by the core.\n\n" +
      "| Violation | SMS.CX `code` | `reason` | Dexatel `code` |\n| --- | --- | --- | --- |\n" +
      "| number with letters or symbols | 2020 | phone_number_invalid | 1523 |\n" +
      "| fewer than 7 / more than 15 digits | 2020 | phone_number_too_short / phone_number_too_long | 1523 |\n" +
      "| no assigned calling code | 2020 | phone_country_code_unknown | 1523 |\n" +
      "| not a number of its country's plan | 2020 | phone_number_not_in_plan | 1523 |\n" +
      "| from under 3 / over 15 / alphanumeric over 11 | 2005 | from_too_short / from_too_long / from_alphanumeric_too_long | 1505 |\n" +
      "| callback URL not https, private or numeric host | 2019 | callback_url_not_https / callback_url_private_host / callback_url_numeric_host | - |\n" +
      "| rate limit (429, Retry-After, X-Rate-Limit-*) | 1007 | - | 1007 |\n" +
      "| number blocked after failed checks (429, Retry-After) | - | - | 1530 |\n" +
      "| code sent too recently (429, Retry-After) | - | - | 1690 |",
    license: { name: "Apache-2.0", identifier: "Apache-2.0" },
  },
  servers: [{ url: "http://127.0.0.1:8787", description: "./scripts/dev.sh" }],
  tags: [
    { name: "otp", description: "SMS.CX dialect" },
    { name: "dexatel", description: "Dexatel dialect" },
    { name: "admin" },
    { name: "receipts", description: "Delivery receipts of SMS providers, in each provider's own format" },
    { name: "insights", description: "Outcomes, cost and conversion of the OTPs (admin token), from the insights database" },
    { name: "service" },
  ],
  paths: {
    "/health": {
      get: {
        tags: ["service"],
        summary: "Liveness",
        security: [],
        responses: {
          200: reply("Up", ref("Health")),
          503: reply("Misconfigured: example or short secrets outside development (the reasons, never the values)", { type: "object" }),
        },
      },
    },
    "/openapi.json": {
      get: { tags: ["service"], summary: "This document", security: [], responses: { 200: reply("OpenAPI 3.1", { type: "object" }) } },
    },
    "/oauth/token": {
      post: {
        tags: ["otp"],
        summary: "Client credentials: a bearer token",
        security: [{ basic: [] }],
        requestBody: {
          required: true,
          content: {
            "application/x-www-form-urlencoded": {
              schema: {
                type: "object",
                required: ["grant_type"],
                properties: { grant_type: { const: "client_credentials" }, scope: { type: "string" } },
              },
            },
          },
        },
        responses: {
          200: reply("A token", ref("Token")),
          400: error("invalid_request, invalid_scope or unsupported_grant_type (1600)"),
          401: error("invalid_client (1600)"),
          413: error("Body over 16 KiB (1002)"),
        },
      },
    },
    "/otp": {
      post: {
        tags: ["otp"],
        summary: "Send a PIN by SMS",
        security: apiAuth,
        parameters: [endUserIpParam],
        requestBody: { required: true, content: json(ref("CreateOtp")) },
        responses: {
          201: reply("Sent", ref("Otp")),
          ...commonErrors,
          403: error("Destination country not allowed (2116) or scope (1604)"),
          429: rateLimited(),
          502: error("No SMS gateway took the message: refused (3001), unreachable (3003); a timeout or a 500/502/504 is a 201 with the delivery unknown"),
        },
      },
    },
    "/otp/{otpId}": {
      parameters: [otpIdParam],
      get: {
        tags: ["otp"],
        summary: "The OTP's status",
        security: apiAuth,
        responses: { 200: reply("The OTP", ref("Otp")), ...commonErrors, 404: error("Not found (2021)") },
      },
      post: {
        tags: ["otp"],
        summary: "Verify a PIN",
        security: apiAuth,
        parameters: [endUserIpParam],
        requestBody: { required: true, content: json(ref("VerifyOtp")) },
        responses: { 200: reply("Verified", ref("Verified")), ...commonErrors, 404: error("Not found (2021)"), 429: rateLimited() },
      },
      delete: {
        tags: ["otp"],
        summary: "Cancel a pending OTP",
        security: apiAuth,
        responses: { 200: reply("Cancelled", ref("Info")), ...commonErrors, 403: error("Not pending (2030, 2031) or scope (1604)"), 404: error("Not found (2021)") },
      },
    },
    "/v1/verifications": {
      post: {
        tags: ["dexatel"],
        summary: "Send a code",
        security: dxAuth,
        parameters: [endUserIpParam],
        requestBody: { required: true, content: json(ref("DexatelCreateVerification")) },
        responses: {
          201: reply("Sent", dxData(ref("DexatelVerification"))),
          ...dxCommon,
          403: dxError("Destination country not allowed (2116)"),
          404: dxError("Template or sender not found"),
          429: rateLimited(ref("DexatelError")),
          502: dxError("No SMS gateway took the message: refused (3001), unreachable (3003)"),
          503: dxError("Storage unavailable (1005), SMS gateway not configured (3005) or busy (3008)"),
        },
      },
      get: {
        tags: ["dexatel"],
        summary: "Check a code (non-empty data when it matched), or list a number's verifications",
        security: dxAuth,
        parameters: [
          { name: "phone", in: "query", required: false, schema: { type: "string" } },
          { name: "code", in: "query", required: false, schema: { type: "string" } },
          ...pageParams,
          endUserIpParam,
        ],
        responses: { 200: reply("Matches", dxList(ref("DexatelVerification"))), ...dxCommon, 429: rateLimited(ref("DexatelError")) },
      },
    },
    "/v1/templates": {
      get: {
        tags: ["dexatel"],
        summary: "The application's templates",
        security: dxAuth,
        parameters: pageParams,
        responses: { 200: reply("Templates", dxList(ref("DexatelTemplate"))), ...dxCommon },
      },
      post: {
        tags: ["dexatel"],
        summary: "Create a template",
        security: dxAuth,
        requestBody: { required: true, content: json(ref("DexatelTemplateInput")) },
        responses: { 201: reply("Created", dxData(ref("DexatelTemplate"))), ...dxCommon },
      },
    },
    "/v1/templates/{id}": {
      parameters: [idParam],
      get: { tags: ["dexatel"], summary: "A template", security: dxAuth, responses: { 200: reply("The template", dxData(ref("DexatelTemplate"))), ...dxCommon, 404: dxError("Not found (1251)") } },
      put: {
        tags: ["dexatel"],
        summary: "Replace a template",
        security: dxAuth,
        requestBody: { required: true, content: json(ref("DexatelTemplateInput")) },
        responses: { 200: reply("The template", dxData(ref("DexatelTemplate"))), ...dxCommon, 404: dxError("Not found (1251)") },
      },
      delete: { tags: ["dexatel"], summary: "Delete a template", security: dxAuth, responses: { 200: reply("Deleted", dxData(ref("DexatelTemplate"))), 204: { description: "Deleted" }, ...dxCommon, 404: dxError("Not found (1251)") } },
    },
    "/v1/senders": {
      get: {
        tags: ["dexatel"],
        summary: "The application's senders",
        security: dxAuth,
        parameters: pageParams,
        responses: { 200: reply("Senders", dxList(ref("DexatelSender"))), ...dxCommon },
      },
      post: {
        tags: ["dexatel"],
        summary: "Create a sender",
        security: dxAuth,
        requestBody: { required: true, content: json(ref("DexatelSenderInput")) },
        responses: { 201: reply("Created", dxData(ref("DexatelSender"))), ...dxCommon },
      },
    },
    "/v1/senders/{id}": {
      parameters: [idParam],
      get: { tags: ["dexatel"], summary: "A sender", security: dxAuth, responses: { 200: reply("The sender", dxData(ref("DexatelSender"))), ...dxCommon, 404: dxError("Not found (1402)") } },
    },
    "/admin/apps": {
      get: {
        tags: ["admin"],
        summary: "Applications, paged, optionally searched by name or id",
        security: adminAuth,
        parameters: [
          { name: "search", in: "query", required: false, schema: { type: "string" } },
          { name: "pageSize", in: "query", required: false, schema: { type: "integer", minimum: 1, maximum: 100 } },
          { name: "pageToken", in: "query", required: false, schema: { type: "string" } },
        ],
        responses: {
          200: reply("A page of applications", { type: "object", required: ["data"], properties: { data: { type: "array", items: ref("App") }, nextPageToken: { type: ["string", "null"] } } }),
          400: error("Bad page size or token (1062)"),
          401: error("Admin token missing or invalid (1012)"),
        },
      },
      post: {
        tags: ["admin"],
        summary: "Create an application (credentials shown once)",
        security: adminAuth,
        requestBody: { required: true, content: json(ref("AppInput")) },
        responses: { 201: reply("Created", ref("App")), 400: error("Invalid field"), 401: error("Admin token missing or invalid (1012)"), 413: error("Too large"), 415: error("Not JSON") },
      },
    },
    "/admin/session": {
      post: {
        tags: ["admin"],
        summary: "Console sign-in: the admin token for a session cookie (HttpOnly, SameSite=Strict, 30 min)",
        security: [],
        requestBody: { required: true, content: json({ type: "object", required: ["token"], properties: { token: { type: "string" } } }) },
        responses: {
          201: reply("Signed in; Set-Cookie otp_console", { type: "object", properties: { expiresAt: dateTime } }),
          400: error("Not a JSON object with a token (1000, 1061)"),
          401: error("Wrong token (1012)"),
          403: error("Origin of another site (1060)"),
          413: error("Body over 16 KiB (1002)"),
          415: error("Body is not JSON (1003)"),
        },
      },
      get: {
        tags: ["admin"],
        summary: "The console session of the cookie",
        security: [],
        responses: { 200: reply("Open", { type: "object", properties: { expiresAt: dateTime } }), 401: error("No open session (1012)") },
      },
      delete: {
        tags: ["admin"],
        summary: "Sign out: the session ends at once",
        security: [],
        responses: { 204: { description: "Signed out" }, 403: error("Origin of another site (1060)") },
      },
    },
    "/admin/apps/{appId}/test-otp": {
      parameters: [appIdParam],
      post: {
        tags: ["admin"],
        summary: "Send a test OTP through the application (the body of POST /otp)",
        security: adminAuth,
        requestBody: { required: true, content: json(ref("CreateOtp")) },
        responses: {
          201: reply("Sent", ref("Otp")),
          400: error("Bad input (the codes of POST /otp)"),
          401: error("Admin token missing or invalid (1012)"),
          403: error("Country not allowed (2116), sender or template not allowed (2133, 2134)"),
          404: error("No such app (1010)"),
          413: error("Body over 16 KiB (1002)"),
          415: error("Body is not JSON (1003)"),
          429: rateLimited(),
          502: error("The SMS gateway refused or failed"),
          503: error("Storage or gateway unavailable"),
          504: error("The SMS gateway timed out"),
        },
      },
    },
    "/admin/apps/{appId}/gateway": {
      parameters: [appIdParam],
      get: {
        tags: ["admin"],
        summary: "The app's gateway and every gateway of its routes, each with the secrets and vars it reads and whether each is set (never a value)",
        security: adminAuth,
        responses: {
          200: reply("The gateways", {
            type: "object",
            additionalProperties: false,
            required: ["development", "gateway", "routes"],
            properties: {
              development: { type: "boolean", description: "Whether ENVIRONMENT is development (the outbox works only then)" },
              gateway: ref("GatewayStatus"),
              routes: {
                type: "array",
                items: {
                  type: "object",
                  required: ["gateways"],
                  properties: {
                    countries: { type: "array", items: { type: "string" } },
                    prefixes: { type: "array", items: { type: "string" } },
                    gateways: { type: "array", items: ref("GatewayStatus") },
                  },
                },
              },
            },
          }),
          401: error("Admin token missing or invalid (1012)"),
          404: error("No such app (1010)"),
        },
      },
    },
    "/admin/apps/{appId}/test-sms": {
      parameters: [appIdParam],
      post: {
        tags: ["admin"],
        summary: "Send one test SMS through the app's gateway and routes, as an OTP's SMS goes: the same checks of the number, sender and size (maxParts), the same admission (caps, budget, fraud guard; no end-user address), the same gateway choice and failover; no delivery receipt asked, nothing stored",
        security: adminAuth,
        requestBody: {
          required: true,
          content: json({
            type: "object",
            additionalProperties: false,
            required: ["phoneNumber"],
            properties: {
              phoneNumber: { type: "string", description: "E.164, or national with countryIso" },
              countryIso: { type: "string" },
              from: { type: "string", description: "Sender (default: the app's; lockdown applies)" },
              text: { type: "string", minLength: 1, maxLength: 1000, description: "Default: \"Test message from <app name>\"; no invisible or direction-changing character its script does not need" },
            },
          }),
        },
        responses: {
          200: reply("What happened: accepted, maybe sent, or not sent by any gateway (with the error)", ref("TestSmsResult")),
          400: error("Bad input: the codes of POST /otp for the number and sender (2001-2005, 2020, 2118), too many parts (2128), a malformed body (1000), other fields or a bad text (1065)"),
          401: error("Admin token missing or invalid (1012)"),
          403: error("Origin of another site (1060), country not allowed (2116), sender not allowed (2133)"),
          404: error("No such app (1010)"),
          413: error("Body over 16 KiB (1002)"),
          415: error("Body is not JSON (1003)"),
          429: rateLimited(),
          503: error("Storage unavailable (1005)"),
        },
      },
    },
    "/admin/apps/{appId}/templates": {
      parameters: [appIdParam],
      get: { tags: ["admin"], summary: "The app's Dexatel templates (Dexatel's shapes)", security: adminAuth, parameters: pageParams, responses: { 200: reply("A page", { type: "object" }), 400: dxError("Bad page (Dexatel codes)"), 401: error("Admin token missing or invalid (1012)"), 404: anyError("No such app (1010)") } },
      post: { tags: ["admin"], summary: "Create a Dexatel template", security: adminAuth, requestBody: { required: true, content: json({ type: "object" }) }, responses: { 201: reply("Created", { type: "object" }), 400: dxError("Bad template (1251-1263)"), 401: error("Admin token missing or invalid (1012)"), 404: anyError("No such app (1010)"), 413: dxError("Body over 16 KiB (1002)"), 415: dxError("Body is not JSON (1003)") } },
    },
    "/admin/apps/{appId}/templates/{templateId}": {
      parameters: [appIdParam, { name: "templateId", in: "path", required: true, schema: { type: "string" } }],
      get: { tags: ["admin"], summary: "A Dexatel template", security: adminAuth, responses: { 200: reply("The template", { type: "object" }), 401: error("Admin token missing or invalid (1012)"), 404: anyError("No such app (1010) or template (1251, Dexatel's shape)") } },
      put: { tags: ["admin"], summary: "Change a Dexatel template", security: adminAuth, requestBody: { required: true, content: json({ type: "object" }) }, responses: { 200: reply("Changed", { type: "object" }), 400: dxError("Bad template (1251-1263)"), 401: error("Admin token missing or invalid (1012)"), 404: anyError("No such app (1010) or template (1251, Dexatel's shape)"), 413: dxError("Body over 16 KiB (1002)"), 415: dxError("Body is not JSON (1003)") } },
      delete: { tags: ["admin"], summary: "Delete a Dexatel template", security: adminAuth, responses: { 200: reply("Deleted", { type: "object" }), 204: { description: "Deleted" }, 401: error("Admin token missing or invalid (1012)"), 404: anyError("No such app (1010) or template (1251, Dexatel's shape)") } },
    },
    "/admin/apps/{appId}/senders": {
      parameters: [appIdParam],
      get: { tags: ["admin"], summary: "The app's Dexatel senders (Dexatel's shapes)", security: adminAuth, parameters: pageParams, responses: { 200: reply("A page", { type: "object" }), 400: dxError("Bad page (Dexatel codes)"), 401: error("Admin token missing or invalid (1012)"), 404: anyError("No such app (1010)") } },
      post: { tags: ["admin"], summary: "Create a Dexatel sender", security: adminAuth, requestBody: { required: true, content: json({ type: "object" }) }, responses: { 201: reply("Created", { type: "object" }), 400: dxError("Bad sender (1402-1441)"), 401: error("Admin token missing or invalid (1012)"), 404: anyError("No such app (1010)"), 413: dxError("Body over 16 KiB (1002)"), 415: dxError("Body is not JSON (1003)") } },
    },
    "/admin/apps/{appId}/senders/{senderId}": {
      parameters: [appIdParam, { name: "senderId", in: "path", required: true, schema: { type: "string" } }],
      get: { tags: ["admin"], summary: "A Dexatel sender", security: adminAuth, responses: { 200: reply("The sender", { type: "object" }), 401: error("Admin token missing or invalid (1012)"), 404: anyError("No such app (1010) or sender (1402, Dexatel's shape)") } },
    },
    "/admin/apps/{appId}/fraud": {
      parameters: [appIdParam],
      get: {
        tags: ["admin"],
        summary: "The fraud guard's current blocks, recent refusals (and shadow mode's) and countries",
        security: adminAuth,
        responses: { 200: reply("The snapshot", { type: "object" }), 401: error("Admin token missing or invalid (1012)"), 404: error("No such app (1010)") },
      },
    },
    "/admin/apps/{appId}/fraud/blocks": {
      parameters: [appIdParam],
      post: {
        tags: ["admin"],
        summary: "Block a number range or a country by hand",
        security: adminAuth,
        requestBody: {
          required: true,
          content: json({
            type: "object",
            required: ["scope", "key", "seconds"],
            properties: { scope: { enum: ["range", "country"] }, key: { type: "string" }, seconds: { type: "integer" } },
          }),
        },
        responses: { 204: { description: "Blocked" }, 400: error("Bad scope, key or time (1000, 2123)"), 401: error("Admin token missing or invalid (1012)"), 404: error("No such app (1010)") },
      },
      delete: {
        tags: ["admin"],
        summary: "Lift a block",
        security: adminAuth,
        parameters: [
          { name: "scope", in: "query", required: true, schema: { enum: ["range", "country"] } },
          { name: "key", in: "query", required: true, schema: { type: "string" } },
        ],
        responses: { 204: { description: "Lifted" }, 400: error("Bad scope or key (1014, 2123)"), 401: error("Admin token missing or invalid (1012)"), 404: error("No such app (1010)") },
      },
    },
    "/admin/apps/{appId}/webhooks/test": {
      parameters: [appIdParam],
      post: {
        tags: ["admin"],
        summary: "Send a test webhook event: {\"event\": \"test\", \"data\": [<OTP object>]} signed like a status callback (Standard Webhooks, the webhook secret), to url or the app's callback URL, under the callback URL policy, in one attempt; logged with the deliveries",
        security: adminAuth,
        requestBody: {
          required: true,
          content: json({ type: "object", additionalProperties: false, properties: { url: { type: "string", description: "Default: the application's otp.callbackUrl" } } }),
        },
        responses: {
          200: reply("Sent or tried: the delivery and its result (a receiver's failure is a 200 with outcome failed)", ref("WebhookDelivery")),
          400: error("Malformed body (1000, 1063), no URL given or configured (1064), URL refused by the policy (2019 with its reason: not https, private or numeric host)"),
          401: error("Admin token missing or invalid (1012)"),
          403: error("Origin of another site (1060)"),
          404: error("No such app (1010)"),
          413: error("Body over 16 KiB (1002)"),
          415: error("Body is not JSON (1003)"),
        },
      },
    },
    "/admin/apps/{appId}/webhooks/deliveries": {
      parameters: [appIdParam],
      get: {
        tags: ["admin"],
        summary: "The last webhook deliveries with their results, newest first: status callbacks, EXPIRED callbacks and test events (the last 50, of the last 7 days)",
        security: adminAuth,
        responses: {
          200: reply("Deliveries", { type: "object", required: ["data"], properties: { data: { type: "array", maxItems: 50, items: ref("WebhookDelivery") } } }),
          401: error("Admin token missing or invalid (1012)"),
          404: error("No such app (1010)"),
          503: error("Storage unavailable (1005)"),
        },
      },
    },
    "/admin/overview": {
      get: {
        tags: ["admin"],
        summary: "The console's overview across every application: today's and this month's figures (UTC) and top countries from the insights (null when they are off), and the blocks in force of the first page of applications (go on with GET /admin/blocks?pageToken=nextPageToken)",
        security: adminAuth,
        parameters: [
          { name: "pageSize", in: "query", required: false, schema: { type: "integer", minimum: 1, maximum: 100, default: 100 }, description: "Applications read for the blocks" },
          { name: "pageToken", in: "query", required: false, schema: { type: "string" } },
        ],
        responses: {
          200: reply("The overview", {
            type: "object",
            required: ["date", "today", "month", "topCountries", "blocks", "applications"],
            properties: {
              date: { type: "string", description: "Today, UTC YYYY-MM-DD" },
              today: { oneOf: [ref("InsightsCounters"), { type: "null" }], description: "Today's OTPs (test numbers left out)" },
              month: { oneOf: [ref("InsightsCounters"), { type: "null" }], description: "This month's, to today" },
              topCountries: {
                oneOf: [{ type: "array", maxItems: 10, items: { allOf: [ref("InsightsCounters"), { type: "object", required: ["key"], properties: { key: { type: "string", description: "ISO country" } } }] } }, { type: "null" }],
                description: "This month's countries, most sent first",
              },
              blocks: { type: "array", items: ref("AppBlock") },
              applications: { type: "integer", description: "Applications read for the blocks" },
              nextPageToken: { type: "string" },
            },
          }),
          400: error("Bad page size or token (1062)"),
          401: error("Admin token missing or invalid (1012)"),
          503: error("Storage or the insights database unavailable (1005)"),
        },
      },
    },
    "/admin/blocks": {
      get: {
        tags: ["admin"],
        summary: "The fraud guard's blocks in force across every application (the console's overview): a page reads the next pageSize applications; nextPageToken while more remain",
        security: adminAuth,
        parameters: [
          { name: "pageSize", in: "query", required: false, schema: { type: "integer", minimum: 1, maximum: 100, default: 100 } },
          { name: "pageToken", in: "query", required: false, schema: { type: "string" } },
        ],
        responses: {
          200: reply("Blocks of a page of applications", {
            type: "object",
            required: ["data", "applications"],
            properties: {
              data: { type: "array", items: ref("AppBlock") },
              applications: { type: "integer", description: "Applications read for this page" },
              nextPageToken: { type: "string" },
            },
          }),
          400: error("Bad page size or token (1062)"),
          401: error("Admin token missing or invalid (1012)"),
          503: error("Storage unavailable (1005)"),
        },
      },
    },
    "/admin/apps/{appId}": {
      parameters: [appIdParam],
      get: {
        tags: ["admin"],
        summary: "An application (no secrets)",
        security: adminAuth,
        responses: { 200: reply("The app", ref("App")), 401: error("Admin token missing or invalid (1012)"), 404: error("No such app (1010)") },
      },
      patch: {
        tags: ["admin"],
        summary: "Change name, gateway or OTP defaults (JSON merge patch)",
        security: adminAuth,
        requestBody: { required: true, content: json(ref("AppInput")) },
        responses: { 200: reply("The app", ref("App")), 400: error("Invalid field"), 401: error("Admin token missing or invalid (1012)"), 404: error("No such app (1010)"), 413: error("Too large"), 415: error("Not JSON") },
      },
      delete: {
        tags: ["admin"],
        summary: "Delete an application",
        security: adminAuth,
        responses: { 200: reply("Deleted", ref("Info")), 401: error("Admin token missing or invalid (1012)"), 404: error("No such app (1010)") },
      },
    },
    "/admin/apps/{appId}/rotate-secret": rotate("application secret (revokes earlier tokens)"),
    "/admin/apps/{appId}/rotate-api-key": rotate("API key"),
    "/admin/apps/{appId}/rotate-webhook-secret": rotate("webhook signing secret"),
    "/admin/apps/{appId}/rotate-receipt-token": rotate("receipt token (receipt URLs given out before stop working)"),
    ...receiptPaths(),
    ...insightsPaths(),
    "/admin/outbox": {
      get: {
        tags: ["admin"],
        summary: "Development only: the newest SMS sent to a number through the outbox",
        security: adminAuth,
        parameters: [
          { name: "phoneNumber", in: "query", required: true, schema: { type: "string" } },
          { name: "countryIso", in: "query", required: false, schema: { type: "string" } },
          { name: "limit", in: "query", required: false, schema: { type: "integer", minimum: 1, maximum: 20 } },
        ],
        responses: {
          200: reply("Messages, newest first", { type: "object", required: ["data"], properties: { data: { type: "array", items: ref("OutboxMessage") } } }),
          400: error("Invalid phone number"),
          401: error("Admin token missing or invalid (1012)"),
          404: error("Not in development (1013)"),
        },
      },
    },
  },
  components: {
    securitySchemes: {
      apiKey: { type: "apiKey", in: "header", name: "X-API-KEY" },
      bearer: { type: "http", scheme: "bearer", description: "From POST /oauth/token" },
      basic: { type: "http", scheme: "basic", description: "appId:appSecret" },
      dexatelKey: { type: "apiKey", in: "header", name: "X-Dexatel-Key", description: "The application's API key" },
      admin: { type: "http", scheme: "bearer", description: "ADMIN_TOKEN" },
    },
    schemas,
  },
};

// Every admin operation can be refused before its token is compared: an address
// that sent too many wrong admin tokens (README: security) gets 429 with Retry-After.
for (const [path, item] of Object.entries(openapi.paths)) {
  if (!path.startsWith("/admin")) continue;
  for (const op of Object.values(item)) {
    if (op && typeof op === "object" && op.responses && !op.responses[429]) {
      op.responses[429] = {
        description: "Too many wrong admin tokens from this address (1050); Retry-After says when to retry",
        headers: { "Retry-After": { schema: { type: "integer" } } },
        content: json(ref("Error")),
      };
    }
  }
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const out = fileURLToPath(new URL("./openapi.json", import.meta.url));
  writeFileSync(out, JSON.stringify(openapi, null, 2) + "\n");
  console.log(`wrote ${out}`);
}
