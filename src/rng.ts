// Seeded, counter-based randomness: every draw is a pure function of (seed, stream, counter),
// so any epoch's order or any parameter's initial value can be recomputed anywhere
// (main thread, worker, test) without carrying generator state around.
//
// Stream ids in use: shuffleStream(epoch) (sample order: the epoch number below 0x1000,
// 0x80000000 + epoch from there), INIT_STREAM + 0, 1, 2, ... (model init), LINES_STREAM
// (the toy lines data set). Pick a fresh id for a new purpose.

const C1 = 0xcc9e2d51;
const C2 = 0x1b873593;
const TWO_32 = 4294967296;

/** One murmur3 block step: mixes the 32-bit word `k` into the running hash `h`. */
function mixWord(h: number, k: number): number {
  k = Math.imul(k, C1);
  k = (k << 15) | (k >>> 17);
  k = Math.imul(k, C2);
  h ^= k;
  h = (h << 13) | (h >>> 19);
  return (Math.imul(h, 5) + 0xe6546b64) | 0;
}

/** murmur3's finaliser: every input bit flips each output bit with probability about 1/2. */
function fmix32(h: number): number {
  h ^= h >>> 16;
  h = Math.imul(h, 0x85ebca6b);
  h ^= h >>> 13;
  h = Math.imul(h, 0xc2b2ae35);
  h ^= h >>> 16;
  return h >>> 0;
}

/** murmur3_32's state after the seed and stream words: the same for every counter of a stream. */
function streamState(seed: number, stream: number): number {
  return mixWord(mixWord(0, seed >>> 0), stream >>> 0);
}

/** The rest of murmur3_32 from a stream's state: the counter's low and high words, then the finaliser. */
function hashCounter(state: number, counter: number): number {
  return fmix32(mixWord(mixWord(state, counter >>> 0), Math.floor(counter / TWO_32) >>> 0) ^ 16);
}

/**
 * A well-mixed 32-bit unsigned integer from (seed, stream, counter): murmur3_32 of the
 * four words seed, stream, counter low, counter high (counters may exceed 2^32).
 */
export function hash32(seed: number, stream: number, counter: number): number {
  return hashCounter(streamState(seed, stream), counter);
}

/** A uniform number in [0, 1) with 32 random bits. */
export function uniform(seed: number, stream: number, counter: number): number {
  return hash32(seed, stream, counter) / TWO_32;
}

/** A standard normal draw (Box-Muller over the uniforms at counters 2*index and 2*index+1). */
export function normal(seed: number, stream: number, index: number): number {
  return boxMuller(uniform(seed, stream, 2 * index), uniform(seed, stream, 2 * index + 1));
}

/**
 * out[i] = scale * normal(seed, stream, i), the same values as one call each, but with the
 * stream's state worked out once: a model's initialisation runs before V8 has optimised
 * anything, where every call costs (784-16-10 took 16 ms one draw at a time, 7.5 ms so).
 */
export function fillNormal(out: Float32Array, seed: number, stream: number, scale: number): void {
  const state = streamState(seed, stream);
  for (let i = 0; i < out.length; i++) {
    out[i] = scale * boxMuller(hashCounter(state, 2 * i) / TWO_32, hashCounter(state, 2 * i + 1) / TWO_32);
  }
}

/** A standard normal from two uniforms in [0, 1); 1 - u1 lies in (0, 1], so the log never sees 0. */
function boxMuller(u1: number, u2: number): number {
  return Math.sqrt(-2 * Math.log(1 - u1)) * Math.cos(2 * Math.PI * u2);
}

/** A sequential generator over one (seed, stream): draw k is hash32(seed, stream, k). */
export class Stream {
  private counter = 0;
  private readonly state: number;

  constructor(seed: number, stream: number) {
    this.state = streamState(seed, stream);
  }

  nextUint32(): number {
    return hashCounter(this.state, this.counter++);
  }

  /** Uniform in [0, 1). */
  nextFloat(): number {
    return this.nextUint32() / TWO_32;
  }

  /** Uniform integer in [0, n) for 1 <= n <= 2^32, without modulo bias (rejects the short tail). */
  nextBelow(n: number): number {
    const reject = TWO_32 % n;
    for (;;) {
      const r = this.nextUint32();
      if (r >= reject) return r % n;
    }
  }
}

/** The first of the model initialisation's streams (model/init.ts): two per layer from here. */
export const INIT_STREAM = 0x1000;
/** Where the shuffles of epochs from INIT_STREAM on go: far past the init streams, short of none. */
const LATE_SHUFFLES = 0x80000000;

/**
 * The stream of `epoch`'s sample order. Below INIT_STREAM it is the epoch number, as it has
 * always been (every run keeps its order); from there on it moves, since epoch 4096's
 * shuffle would otherwise replay the draws that initialised the first layer.
 */
export function shuffleStream(epoch: number): number {
  return epoch < INIT_STREAM ? epoch : LATE_SHUFFLES + epoch;
}

/** The order of samples 0..n-1 in `epoch`: a Fisher-Yates shuffle driven by Stream(seed, shuffleStream(epoch)). */
export function shuffledOrder(n: number, seed: number, epoch: number): Int32Array {
  const order = new Int32Array(n);
  for (let i = 0; i < n; i++) order[i] = i;
  const rng = new Stream(seed, shuffleStream(epoch));
  for (let i = n - 1; i > 0; i--) {
    const j = rng.nextBelow(i + 1);
    const t = order[i];
    order[i] = order[j];
    order[j] = t;
  }
  return order;
}

/** The stream of the synthetic lines data set, far from epoch and init ids. */
export const LINES_STREAM = 0x4c494e45; // 'LINE'
