// The numbering plan at the API: a number the plan does not have, or of a type the
// application does not send to (fixed lines, premium rate, international networks…),
// gets no SMS and no record, in both dialects; the country is the one the digits
// determine, whatever countryIso says.

import assert from "node:assert/strict";
import { after, before, describe, test } from "node:test";
import { startApi } from "../support/api.mjs";

describe("numbers by the numbering plan", () => {
  let worker, api, app;
  before(async () => {
    worker = await startApi();
    api = worker.api;
    app = await api.createApp({ name: "Plan" });
  });
  after(async () => {
    await worker?.dispose();
  });

  const refusals = [
    // [number, code, reason, type named in the message]
    ["+9712234567", 2020, "phone_number_not_in_plan"], // libphonenumber's invalid example for AE
    ["+37671234", 2020, "phone_number_not_in_plan"], // AD's invalid example
    ["+442079460958", 2118, "phone_number_type_not_allowed", "fixedLine"],
    ["+449012345678", 2118, "phone_number_type_not_allowed", "premiumRate"],
    ["+448001234567", 2118, "phone_number_type_not_allowed", "tollFree"],
    ["+881612345678", 2118, "phone_number_type_not_allowed", "internationalNetwork"],
  ];

  test("refused numbers get SMS.CX's 2020 or our 2118 naming the type, and nothing is sent", async () => {
    const otp = api.otp(app.apiKey);
    for (const [number, code, reason, type] of refusals) {
      const res = await otp.send({ phoneNumber: number });
      assert.equal(res.status, 400, `${number}: ${JSON.stringify(res.body)}`);
      assert.deepEqual([res.body.error.code, res.body.error.reason], [code, reason], number);
      if (type) assert.ok(res.body.error.message.endsWith(`: ${type}`), res.body.error.message);
      assert.equal((await api.outbox(number)).length, 0, `nothing sent to ${number}`);
    }
  });

  test("the Dexatel dialect refuses the same numbers (1523 not in the plan, 2118 by type)", async () => {
    const headers = { "x-dexatel-key": app.apiKey };
    for (const [number, code] of refusals) {
      const res = await api.call("POST", "/v1/verifications", {
        body: { data: { sender: "Verify", phone: number.slice(1) } },
        headers,
      });
      assert.equal(res.status, 400, `${number}: ${JSON.stringify(res.body)}`);
      assert.equal(res.body.errors[0].code, code === 2020 ? 1523 : 2118, number);
    }
  });

  test("mobiles, numbers the plan cannot split (NANP) and the app's own allowed types go out", async () => {
    const otp = api.otp(app.apiKey);
    for (const number of ["+33612345678", "+447400123456", "+4915123456789", "+12015550123"]) {
      const res = await otp.send({ phoneNumber: number });
      assert.equal(res.status, 201, `${number}: ${JSON.stringify(res.body)}`);
    }
    const landlines = await api.createApp({ name: "Landlines", otp: { allowedNumberTypes: ["mobile", "fixedLine"] } });
    assert.equal((await api.otp(landlines.apiKey).send({ phoneNumber: "+442079460958" })).status, 201);
    const bad = await api.admin("PATCH", `/admin/apps/${landlines.appId}`, { otp: { allowedNumberTypes: ["landline"] } });
    assert.equal(bad.status, 400);
    assert.equal(bad.body.error.code, 2119);
  });

  test("the digits decide the country: countryIso never overrides them", async () => {
    const otp = api.otp(app.apiKey);
    // +44 7911 is Guernsey's, +44 7400 Great Britain's, whatever the caller says.
    const gg = await otp.send({ phoneNumber: "+447911123456", countryIso: "GB" });
    assert.equal(gg.status, 201, JSON.stringify(gg.body));
    assert.equal(gg.body.countryIso, "GG");
    const gb = await otp.send({ phoneNumber: "+447400123457", countryIso: "GG" });
    assert.equal(gb.body.countryIso, "GB");
    // A national number is read in the given country.
    const national = await otp.send({ phoneNumber: "07400 123458", countryIso: "GB" });
    assert.equal(national.body.phoneNumber, "+447400123458");
  });
});
