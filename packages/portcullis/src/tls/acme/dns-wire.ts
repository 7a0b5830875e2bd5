/**
 * The DNS message format (RFC 1035 section 4), as far as DNS-01 over RFC 2136 needs it: build
 * queries and UPDATE messages, read answers. Only what this client sends and reads is
 * modelled; rdata stays raw bytes. Answers come from the network, so every read is bounds-
 * checked and a malformed message throws instead of reading past its end.
 */

/** Record types used here (RFC 1035 section 3.2.2, RFC 8945). */
export const DnsType = { NS: 2, CNAME: 5, SOA: 6, TXT: 16, TSIG: 250 } as const;
/** Classes (RFC 1035 section 3.2.4; NONE and ANY as RFC 2136 section 2.4 uses them). */
export const DnsClass = { IN: 1, NONE: 254, ANY: 255 } as const;
export const DnsOpcode = { QUERY: 0, UPDATE: 5 } as const;

/** Response codes by number, for messages (RFC 1035, RFC 2136 section 2.2, RFC 8945 section 3). */
const RCODE_NAMES: Readonly<Record<number, string>> = {
  0: 'NOERROR',
  1: 'FORMERR',
  2: 'SERVFAIL',
  3: 'NXDOMAIN',
  4: 'NOTIMP',
  5: 'REFUSED',
  6: 'YXDOMAIN',
  7: 'YXRRSET',
  8: 'NXRRSET',
  9: 'NOTAUTH',
  10: 'NOTZONE',
  16: 'BADSIG',
  17: 'BADKEY',
  18: 'BADTIME',
  22: 'BADTRUNC',
};

/** `NOTAUTH` for 9; `RCODE 42` for codes without a name. */
export function rcodeName(code: number): string {
  return RCODE_NAMES[code] ?? `RCODE ${code}`;
}

export interface DnsQuestion {
  name: string;
  type: number;
  class: number;
}

export interface DnsRecord {
  name: string;
  type: number;
  class: number;
  ttl: number;
  data: Buffer;
}

/** A decoded record, with where it sits in the message (TSIG checks need the bytes before it). */
export interface DecodedRecord extends DnsRecord {
  offset: number;
  /** Offset of the rdata in the message (names inside it may point back into the message). */
  dataOffset: number;
}

export interface DnsMessage {
  id: number;
  /** The 16 flag bits: QR, opcode, AA, TC, RD, RA, Z, rcode (RFC 1035 section 4.1.1). */
  flags: number;
  questions: DnsQuestion[];
  /** RFC 2136 calls these the prerequisite, update and additional sections. */
  answers: DnsRecord[];
  authorities: DnsRecord[];
  additionals: DnsRecord[];
}

export interface DecodedMessage extends Omit<DnsMessage, 'answers' | 'authorities' | 'additionals'> {
  answers: DecodedRecord[];
  authorities: DecodedRecord[];
  additionals: DecodedRecord[];
  opcode: number;
  rcode: number;
  isResponse: boolean;
  authoritative: boolean;
  truncated: boolean;
}

const MAX_NAME_WIRE = 255;
const MAX_LABEL = 63;
/**
 * Compression pointers followed for one name. Pointing backwards stops loops but not chains:
 * a 64 KB answer can hold thousands of pointers, each to the one before, and many records
 * naming the last would make parsing quadratic. A name has at most 127 labels, so a name that
 * needs more hops than that is hostile.
 */
const MAX_POINTER_HOPS = 127;
/** Characters a name this client sends may hold; anything else (spaces, dots in labels, NUL) is refused. */
const LABEL_TEXT = /^[A-Za-z0-9_-]+$/;

/** Lower-case, without the trailing dot; '' is the root. Throws on a name that cannot be sent. */
export function normalName(name: string): string {
  const bare = name.endsWith('.') ? name.slice(0, -1) : name;
  if (bare === '') return '';
  const labels = bare.split('.');
  for (const label of labels) {
    if (label.length === 0 || label.length > MAX_LABEL || !LABEL_TEXT.test(label)) throw new Error(`${JSON.stringify(name)} is not a DNS name this client can send`);
  }
  if (bare.length + 2 > MAX_NAME_WIRE) throw new Error(`${JSON.stringify(name)} is longer than a DNS name may be`);
  return bare.toLowerCase();
}

/** The uncompressed wire form of `name`, lower-cased (RFC 4034 section 6.2 canonical form, which TSIG signs). */
export function encodeName(name: string): Buffer {
  const normal = normalName(name);
  if (normal === '') return Buffer.from([0]);
  const parts: Buffer[] = [];
  for (const label of normal.split('.')) parts.push(Buffer.from([label.length]), Buffer.from(label, 'ascii'));
  parts.push(Buffer.from([0]));
  return Buffer.concat(parts);
}

/** TXT rdata holding `text` as character-strings of at most 255 bytes (RFC 1035 section 3.3.14). */
export function txtData(text: string): Buffer {
  const bytes = Buffer.from(text, 'utf8');
  const parts: Buffer[] = [];
  for (let i = 0; i < bytes.length || i === 0; i += 255) {
    const chunk = bytes.subarray(i, i + 255);
    parts.push(Buffer.from([chunk.length]), chunk);
  }
  return Buffer.concat(parts);
}

function u16(value: number): Buffer {
  const b = Buffer.alloc(2);
  b.writeUInt16BE(value);
  return b;
}

function encodeRecord(r: DnsRecord): Buffer {
  const fixed = Buffer.alloc(10);
  fixed.writeUInt16BE(r.type, 0);
  fixed.writeUInt16BE(r.class, 2);
  fixed.writeUInt32BE(r.ttl, 4);
  fixed.writeUInt16BE(r.data.length, 8);
  return Buffer.concat([encodeName(r.name), fixed, r.data]);
}

/** The wire form of `message`, without name compression. */
export function encodeMessage(message: DnsMessage): Buffer {
  const header = Buffer.alloc(12);
  header.writeUInt16BE(message.id, 0);
  header.writeUInt16BE(message.flags, 2);
  header.writeUInt16BE(message.questions.length, 4);
  header.writeUInt16BE(message.answers.length, 6);
  header.writeUInt16BE(message.authorities.length, 8);
  header.writeUInt16BE(message.additionals.length, 10);
  const parts: Buffer[] = [header];
  for (const q of message.questions) parts.push(encodeName(q.name), u16(q.type), u16(q.class));
  for (const r of [...message.answers, ...message.authorities, ...message.additionals]) parts.push(encodeRecord(r));
  return Buffer.concat(parts);
}

/** Header flags for a request with `opcode` (QR clear, no recursion wanted: we ask the authority). */
export function requestFlags(opcode: number): number {
  return (opcode & 0xf) << 11;
}

function need(buf: Buffer, offset: number, length: number): void {
  if (offset < 0 || offset + length > buf.length) throw new Error('malformed DNS message: it ends early');
}

/**
 * Reads the name at `offset`, following compression pointers (RFC 1035 section 4.1.4) only to
 * places before every earlier one, so a hostile message cannot loop, and at most
 * MAX_POINTER_HOPS of them; returns it lower-cased and where it ends.
 */
export function decodeName(buf: Buffer, offset: number): { name: string; end: number } {
  const labels: string[] = [];
  let at = offset;
  let end = -1;
  let wire = 1;
  let floor = offset;
  let hops = 0;
  for (;;) {
    need(buf, at, 1);
    const len = buf[at]!;
    if (len === 0) {
      if (end < 0) end = at + 1;
      break;
    }
    if ((len & 0xc0) === 0xc0) {
      need(buf, at, 2);
      const target = buf.readUInt16BE(at) & 0x3fff;
      if (target >= floor) throw new Error('malformed DNS message: a name pointer does not point backwards');
      if (++hops > MAX_POINTER_HOPS) throw new Error('malformed DNS message: a name follows too many pointers');
      if (end < 0) end = at + 2;
      at = floor = target;
      continue;
    }
    if ((len & 0xc0) !== 0) throw new Error('malformed DNS message: unknown label type');
    need(buf, at + 1, len);
    wire += len + 1;
    if (wire > MAX_NAME_WIRE) throw new Error('malformed DNS message: a name is too long');
    labels.push(buf.toString('latin1', at + 1, at + 1 + len).toLowerCase());
    at += len + 1;
  }
  return { name: labels.join('.'), end };
}

function decodeRecords(buf: Buffer, offset: number, count: number, out: DecodedRecord[]): number {
  let at = offset;
  for (let i = 0; i < count; i++) {
    const start = at;
    const { name, end } = decodeName(buf, at);
    need(buf, end, 10);
    const length = buf.readUInt16BE(end + 8);
    need(buf, end + 10, length);
    out.push({
      name,
      type: buf.readUInt16BE(end),
      class: buf.readUInt16BE(end + 2),
      ttl: buf.readUInt32BE(end + 4),
      data: buf.subarray(end + 10, end + 10 + length),
      offset: start,
      dataOffset: end + 10,
    });
    at = end + 10 + length;
  }
  return at;
}

/** Decodes a whole message; throws on anything malformed or on bytes after its last record. */
export function decodeMessage(buf: Buffer): DecodedMessage {
  need(buf, 0, 12);
  const flags = buf.readUInt16BE(2);
  const counts = [4, 6, 8, 10].map((o) => buf.readUInt16BE(o)) as [number, number, number, number];
  const questions: DnsQuestion[] = [];
  let at = 12;
  for (let i = 0; i < counts[0]; i++) {
    const { name, end } = decodeName(buf, at);
    need(buf, end, 4);
    questions.push({ name, type: buf.readUInt16BE(end), class: buf.readUInt16BE(end + 2) });
    at = end + 4;
  }
  const answers: DecodedRecord[] = [];
  const authorities: DecodedRecord[] = [];
  const additionals: DecodedRecord[] = [];
  at = decodeRecords(buf, at, counts[1], answers);
  at = decodeRecords(buf, at, counts[2], authorities);
  at = decodeRecords(buf, at, counts[3], additionals);
  if (at !== buf.length) throw new Error('malformed DNS message: bytes after the last record');
  return {
    id: buf.readUInt16BE(0),
    flags,
    opcode: (flags >> 11) & 0xf,
    rcode: flags & 0xf,
    isResponse: (flags & 0x8000) !== 0,
    authoritative: (flags & 0x0400) !== 0,
    truncated: (flags & 0x0200) !== 0,
    questions,
    answers,
    authorities,
    additionals,
  };
}

/** Whether `name` is `zone` or below it (both normal names). */
export function isInZone(name: string, zone: string): boolean {
  return zone === '' || name === zone || name.endsWith(`.${zone}`);
}
