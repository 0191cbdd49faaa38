// Runs in the dashboard page (tests/test_web_browser.py): every golden case of the
// where grammar (tests/where_cases.json, passed as its raw text so that odd code points
// arrive intact) through the page's parser. Returns, as JSON, how many cases were
// checked and the disagreements.
(source) => {
  const golden = JSON.parse(source);
  const api = window.resulttracker;
  const problems = [];
  const special = { nan: NaN, inf: Infinity, "-inf": -Infinity };
  const sameNumber = (expected, found) => {
    if (expected === null) return found.number === null && found.kind === null;
    const [kind, value] = Object.entries(expected)[0];
    if (found.kind !== kind) return false;
    if (kind === "bool") return found.number === (value ? 1 : 0);
    if (kind === "int") return found.number === Number(value);  // the nearest double
    return Object.is(found.number, value in special ? special[value] : Number(value));
  };
  const sameCondition = (expected, found) =>
    ["name", "operator", "text", "source"].every((field) => expected[field] === found[field])
    && sameNumber(expected.number, found);
  let checked = 0;
  for (const [name, parse] of [["parse_condition", api.parseCondition], ["parse_where_text", api.parseWhere]]) {
    golden[name].forEach((expected, index) => {
      let found;
      try {
        const parsed = parse(expected.text);
        found = { conditions: name === "parse_condition" ? [parsed] : parsed };
      } catch (error) {
        found = { error: { reason: error.reason, position: error.position, message: error.message } };
      }
      const agrees = expected.error
        ? found.error !== undefined
          && ["reason", "position", "message"].every((field) => expected.error[field] === found.error[field])
        : found.conditions !== undefined
          && found.conditions.length === expected.conditions.length
          && expected.conditions.every((condition, at) => sameCondition(condition, found.conditions[at]));
      checked += 1;
      if (!agrees) problems.push({ function: name, index: index, text: expected.text, expected: expected.error || expected.conditions, found: found });
    });
  }
  return JSON.stringify({ checked: checked, problems: problems });
}
