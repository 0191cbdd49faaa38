import { asNumber, isNumber } from "./values.js";

// The where syntax: a port of resulttracker.query's scanner (parse_condition and
// parse_where_text), so that the offline report filters with no server.
//
// The library is the definition. tests/where_cases.json holds its golden cases
// (accepted text with the parse, refused text with the exact message and position),
// and the browser tests check that this port gives exactly those; change the
// grammar in query.py and the golden file first, then here.
//
// Python counts positions in code points and JavaScript strings in UTF-16 units, so
// the scanner works on an array of code points. str.isspace(), the \d of Python's
// re (any Unicode decimal digit) and repr() are written out below as Python has them.

export const MAX_CONDITION_LENGTH = 8192;

const OPERATORS = ["<=", ">=", "!=", "==", "=", "<", ">"];
const OPERATOR_CHARACTERS = "=!<>";
const QUOTES = "'\"";
const INTEGER = /^[+-]?\p{Nd}+$/u;
const NUMBER = /^[+-]?(?:\p{Nd}+\.?\p{Nd}*|\.\p{Nd}+)(?:[eE][+-]?\p{Nd}+)?$/u;
const DIGIT = /^\p{Nd}$/u;
// Python's default limit on the digits int() converts (sys.get_int_max_str_digits()).
const MAX_INTEGER_DIGITS = 4300;
const SPECIAL_NUMBERS = new Map([
  ["nan", [NaN, "float"]], ["+nan", [NaN, "float"]], ["-nan", [NaN, "float"]],
  ["inf", [Infinity, "float"]], ["+inf", [Infinity, "float"]], ["infinity", [Infinity, "float"]],
  ["+infinity", [Infinity, "float"]], ["-inf", [-Infinity, "float"]], ["-infinity", [-Infinity, "float"]],
  ["true", [1, "bool"]], ["false", [0, "bool"]],
]);

// The code points for which Python's str.isspace() is true (JavaScript's \s differs:
// it has U+FEFF and lacks U+001C to U+001F and U+0085).
const SPACES = new Set([
  0x09, 0x0a, 0x0b, 0x0c, 0x0d, 0x1c, 0x1d, 0x1e, 0x1f, 0x20, 0x85, 0xa0, 0x1680,
  0x2000, 0x2001, 0x2002, 0x2003, 0x2004, 0x2005, 0x2006, 0x2007, 0x2008, 0x2009, 0x200a,
  0x2028, 0x2029, 0x202f, 0x205f, 0x3000,
]);

function isSpace(character) {
  return SPACES.has(character.codePointAt(0));
}

// str.isprintable(): false for the categories Other and Separator, but for the space.
const NOT_PRINTABLE = /^[\p{Cc}\p{Cf}\p{Cs}\p{Co}\p{Cn}\p{Zl}\p{Zp}\p{Zs}]$/u;

function escapeCharacter(character) {
  if (character === "\\") return "\\\\";
  if (character === "\n") return "\\n";
  if (character === "\r") return "\\r";
  if (character === "\t") return "\\t";
  if (character === " " || !NOT_PRINTABLE.test(character)) return character;
  const code = character.codePointAt(0);
  if (code < 0x100) return "\\x" + code.toString(16).padStart(2, "0");
  if (code < 0x10000) return "\\u" + code.toString(16).padStart(4, "0");
  return "\\U" + code.toString(16).padStart(8, "0");
}

// Python's repr() of a str.
export function pythonRepr(text) {
  const quote = text.includes("'") && !text.includes('"') ? '"' : "'";
  let shown = "";
  for (const character of text) shown += character === quote ? "\\" + character : escapeCharacter(character);
  return quote + shown + quote;
}

// resulttracker.errors._point_at: a window of the text and a caret under the position.
function pointAt(characters, position, width = 30) {
  const start = Math.max(0, position - width);
  const end = Math.min(characters.length, position + width);
  const before = start > 0 ? "..." : "";
  const after = end < characters.length ? "..." : "";
  const shown = characters.slice(start, end).map(escapeCharacter);
  let column = before.length;
  for (const piece of shown.slice(0, position - start)) column += Array.from(piece).length;
  return "    " + before + shown.join("") + after + "\n    " + " ".repeat(column) + "^";
}

// resulttracker.errors.InvalidQueryError: the same message, reason, condition and position.
export class QueryError extends Error {
  constructor(reason, characters, position) {
    let message = reason;
    if (characters !== undefined) {
      message = "invalid where condition: " + reason;
      if (position !== null) message += " (at position " + position + ")\n" + pointAt(characters, position);
    }
    super(message);
    this.name = "QueryError";
    this.reason = reason;
    this.condition = characters === undefined ? null : characters.join("");
    this.position = characters === undefined ? null : position;
  }
}

// The value of each decimal digit (any script) as ASCII: Unicode assigns decimal digits
// in runs of ten, 0 to 9, so a digit's value is its distance from its run's start.
function asciiDigits(text) {
  let converted = "";
  for (const character of text) {
    if (character >= "0" && character <= "9") {
      converted += character;
    } else if (DIGIT.test(character)) {
      let first = character.codePointAt(0);
      while (DIGIT.test(String.fromCodePoint(first - 1))) first -= 1;
      converted += String((character.codePointAt(0) - first) % 10);
    } else {
      converted += character;
    }
  }
  return converted;
}

// A scanner over the code points of one text; every error names a position.
class Scanner {
  constructor(text) {
    this.characters = Array.from(text);
    this.position = 0;
  }

  fail(reason, position) {
    return new QueryError(reason, this.characters, position === undefined ? this.position : position);
  }

  atEnd() {
    return this.position >= this.characters.length;
  }

  current() {
    return this.characters[this.position];
  }

  slice(start, end) {
    return this.characters.slice(start, end).join("");
  }

  skipSpaces() {
    while (!this.atEnd() && isSpace(this.current())) this.position += 1;
  }

  condition() {
    this.skipSpaces();
    if (this.atEnd()) throw this.fail("the condition is empty; expected NAME OP VALUE, e.g. 'loss < 0.5'");
    const finish = this.oneCondition();
    this.skipSpaces();
    if (!this.atEnd()) {
      throw this.fail(
        "unexpected text after the value; quote a value that holds spaces, " +
        "and give several conditions as separate strings (they are AND-ed)");
    }
    return finish(this.characters.join(""));
  }

  conditions() {
    const found = [];
    this.skipSpaces();
    while (!this.atEnd()) {
      const start = this.position;
      const finish = this.oneCondition();
      const end = this.position;
      this.skipSpaces();
      if (!this.atEnd()) {
        const following = this.characters[this.position + 3];
        if (this.position === end || this.slice(this.position, this.position + 3).toLowerCase() !== "and" ||
            !(following === undefined || isSpace(following))) {
          throw this.fail("unexpected text after the value; quote a value that holds spaces, and join conditions with 'and'");
        }
        this.position += 3;
        this.skipSpaces();
        if (this.atEnd()) throw this.fail("expected a condition after 'and'");
      }
      found.push(finish(this.slice(start, end)));
    }
    return found;
  }

  // NAME OP VALUE from here to the end of the value; the function returned makes the
  // condition (reading the value as a number only after the caller's checks, as Python).
  oneCondition() {
    const start = this.position;
    const [name] = this.term("name");
    if (!name) throw this.fail("the name is empty", start);
    this.skipSpaces();
    const operator = this.operator(name);
    this.skipSpaces();
    if (this.atEnd()) throw this.fail("expected a value after " + pythonRepr(operator));
    const valueStart = this.position;
    const [value, quoted] = this.term("value");
    return (source) => {
      const [number, kind] = quoted ? [null, null] : this.readNumber(value, valueStart);
      return { name: name, operator: operator === "==" ? "=" : operator, text: value, number: number, kind: kind, source: source };
    };
  }

  term(what) {
    if (QUOTES.includes(this.current())) return [this.quoted(), true];
    const start = this.position;
    while (!this.atEnd()) {
      const character = this.current();
      if (isSpace(character) || QUOTES.includes(character) || OPERATOR_CHARACTERS.includes(character)) break;
      this.position += 1;
    }
    if (this.position === start) {
      const shown = pythonRepr(this.current());
      if (what === "name") throw this.fail("expected a name before " + shown);
      throw this.fail("a bare value cannot start with " + shown + " (the operators are = != < <= > >=); quote a value that does");
    }
    if (what === "value" && !this.atEnd() && !isSpace(this.current())) {
      throw this.fail("unexpected " + pythonRepr(this.current()) + " in a bare value; quote the value");
    }
    return [this.slice(start, this.position), false];
  }

  quoted() {
    const opening = this.position;
    const quote = this.current();
    this.position += 1;
    let pieces = "";
    while (!this.atEnd()) {
      const character = this.current();
      if (character === "\\") {
        if (this.position + 1 >= this.characters.length) break;
        pieces += this.characters[this.position + 1];
        this.position += 2;
      } else if (character === quote) {
        this.position += 1;
        return pieces;
      } else {
        pieces += character;
        this.position += 1;
      }
    }
    throw this.fail("the quote " + quote + " opened here is never closed", opening);
  }

  operator(name) {
    for (const operator of OPERATORS) {
      if (this.slice(this.position, this.position + operator.length) === operator) {
        this.position += operator.length;
        return operator;
      }
    }
    const expected = "expected an operator (one of = != < <= > >=)";
    if (this.atEnd()) throw this.fail(expected + " after the name " + Array.from(pythonRepr(name)).slice(0, 80).join(""));
    throw this.fail(expected + ", found " + pythonRepr(this.current()));
  }

  // [number, kind]: kind "int", "float" or "bool" as Python reads the value; null, null
  // when it is no number.
  readNumber(text, start) {
    const special = SPECIAL_NUMBERS.get(text.toLowerCase());
    if (special !== undefined) return special;
    if (INTEGER.test(text)) {
      const digits = Array.from(text).length - (text[0] === "+" || text[0] === "-" ? 1 : 0);
      if (digits > MAX_INTEGER_DIGITS) throw this.fail("the integer has too many digits", start);
      return [Number(asciiDigits(text)) + 0, "int"]; // + 0: an int has no negative zero
    }
    if (NUMBER.test(text)) return [Number(asciiDigits(text)), "float"];
    return [null, null];
  }
}

function checkLength(text, what) {
  if (typeof text !== "string") throw new QueryError("a where " + what + " must be a str, got " + typeof text);
  const length = Array.from(text).length;
  if (length > MAX_CONDITION_LENGTH) {
    throw new QueryError("a where " + what + " of " + length + " characters is over the limit of " + MAX_CONDITION_LENGTH);
  }
}

// One NAME OP VALUE condition (resulttracker.query.parse_condition):
// {name, operator, text, number, kind, source}.
export function parseCondition(text) {
  checkLength(text, "condition");
  return new Scanner(text).condition();
}

// A whole filter in one text, conditions joined by 'and' (parse_where_text): a list
// of conditions, empty for a blank text.
export function parseWhere(text) {
  checkLength(text, "text");
  return new Scanner(text).conditions();
}

function ordered(left, operator, right) {
  if (operator === "<") return left < right;
  if (operator === "<=") return left <= right;
  if (operator === ">") return left > right;
  return left >= right;
}

function compareCodePoints(left, right) {
  // JavaScript compares UTF-16 units; Python compares code points. Same except past U+FFFF.
  const a = Array.from(left), b = Array.from(right);
  for (let index = 0; index < Math.min(a.length, b.length); index += 1) {
    const difference = a[index].codePointAt(0) - b[index].codePointAt(0);
    if (difference !== 0) return difference;
  }
  return a.length - b.length;
}

// results: a Map. null and nested values match no condition (not even !=).
export function conditionMatches(condition, results) {
  if (!results.has(condition.name)) return false;
  const stored = results.get(condition.name);
  if (typeof stored === "string") {
    if (condition.operator === "=") return stored === condition.text;
    if (condition.operator === "!=") return stored !== condition.text;
    return ordered(compareCodePoints(stored, condition.text), condition.operator, 0);
  }
  if (condition.number === null || !isNumber(stored)) return false;
  const left = asNumber(stored), right = condition.number;
  const leftNaN = Number.isNaN(left), rightNaN = Number.isNaN(right);
  if (condition.operator === "=" || condition.operator === "!=") {
    const equal = leftNaN || rightNaN ? leftNaN && rightNaN : left === right;
    return condition.operator === "=" ? equal : !equal;
  }
  if (leftNaN || rightNaN) return false;
  return ordered(left, condition.operator, right);
}

export function inPrefix(key, prefix) {
  return !prefix || key === prefix || key.startsWith(prefix + "/");
}
