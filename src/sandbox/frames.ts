/**
 * The transport framing of the WhatsApp web protocol. A client opens with an intro, optionally
 * preceded by an edge-routing prefix (`ED 00 01` + 3-byte length + routing info, sent when its
 * creds carry `routingInfo`), then `57 41 06 03` ("WA", protocol 6, dictionary version 3). After
 * that, in both directions, every frame is a 3-byte big-endian length and that many bytes. Server
 * frames carry no intro. WebSocket message boundaries mean nothing: frames are cut from the stream.
 */

export const WA_INTRO = Buffer.from([0x57, 0x41, 6, 3]);
const ROUTING_MAGIC = Buffer.from([0x45, 0x44, 0, 1]);
const LENGTH_BYTES = 3;
/** The largest length a 3-byte prefix can state. */
export const MAX_FRAME_LENGTH = 0xff_ff_ff;

/** Why a byte stream was rejected; the connection that sent it is closed with this reason. */
export class FrameError extends Error {
  override readonly name = 'FrameError';
}

export interface FrameReader {
  /** Adds received bytes; returns the complete frames they finish, in order. Throws FrameError. */
  push(chunk: Uint8Array): Buffer[];
}

/** A reader for one client stream. `maxFrameBytes` bounds one frame (and so the bytes held waiting). */
export function createFrameReader(maxFrameBytes: number): FrameReader {
  let buffered = Buffer.alloc(0);
  let introDone = false;

  const fail = (): never => {
    throw new FrameError('malformed edge-routing prefix');
  };
  const readIntro = (): boolean => {
    let offset = 0;
    if (buffered[0] === ROUTING_MAGIC[0]) {
      const seen = Math.min(buffered.length, ROUTING_MAGIC.length);
      if (!ROUTING_MAGIC.subarray(0, seen).equals(buffered.subarray(0, seen))) fail();
      if (buffered.length < 7) return false;
      const routingLength = buffered.readUIntBE(4, 3);
      if (routingLength > 1024) throw new FrameError(`edge-routing info of ${routingLength} bytes is too long`);
      offset = 7 + routingLength;
    }
    if (buffered.length < offset + WA_INTRO.length) {
      // Reject a wrong first byte at once rather than waiting for more garbage.
      const have = buffered.subarray(offset);
      if (!WA_INTRO.subarray(0, have.length).equals(have)) throw new FrameError('stream does not start with the WA intro');
      return false;
    }
    const intro = buffered.subarray(offset, offset + WA_INTRO.length);
    if (!intro.equals(WA_INTRO)) {
      throw new FrameError(`unsupported intro ${intro.toString('hex')} (expected ${WA_INTRO.toString('hex')})`);
    }
    buffered = buffered.subarray(offset + WA_INTRO.length);
    introDone = true;
    return true;
  };

  return {
    push(chunk) {
      buffered = buffered.length === 0 ? Buffer.from(chunk) : Buffer.concat([buffered, chunk]);
      if (!introDone && !readIntro()) return [];
      const frames: Buffer[] = [];
      while (buffered.length >= LENGTH_BYTES) {
        const length = buffered.readUIntBE(0, LENGTH_BYTES);
        if (length > maxFrameBytes) throw new FrameError(`frame of ${length} bytes exceeds the limit of ${maxFrameBytes}`);
        if (length === 0) throw new FrameError('empty frame');
        if (buffered.length < LENGTH_BYTES + length) break;
        frames.push(buffered.subarray(LENGTH_BYTES, LENGTH_BYTES + length));
        buffered = buffered.subarray(LENGTH_BYTES + length);
      }
      return frames;
    },
  };
}

/** Prefixes a server payload with its 3-byte length. */
export function encodeFrame(payload: Uint8Array): Buffer {
  if (payload.length > MAX_FRAME_LENGTH) throw new FrameError(`frame of ${payload.length} bytes cannot be encoded`);
  const frame = Buffer.allocUnsafe(LENGTH_BYTES + payload.length);
  frame.writeUIntBE(payload.length, 0, LENGTH_BYTES);
  frame.set(payload, LENGTH_BYTES);
  return frame;
}
