// The loop every worker thread runs during a training segment. Whoever is running does
// the work: each step's pieces are claimed from shared counters, so a thread that was
// descheduled never holds the others up by being absent, only by a piece it claimed (or
// a phase it was opening: see openPhase).
//
// A step has two phases. Phase A: tasks, each an aligned run of microbatches whose
// gradients the claiming thread computes and adds up in its own slots (reduction-tree.ts).
// Phase B: parameter chunks; the tasks' sums are added over the rest of the tree and the
// optimiser updates the chunk. Each phase's items are cut into one range per training
// thread, and a thread claims from its own range first (protocol.ts rangeItems), so its
// slots and its chunks' optimiser state stay in its core's cache from step to step.
// Which thread computes what may change; the tree does not, so the weights are
// bit-identical for any thread count.
//
// Why it cannot race or deadlock:
//  - A ticket is (phase, index within a range); Atomics.add hands every index out once.
//    An index below the range's item count is a real piece of the current step: the
//    phase cannot end before that piece is done, so STEP read after claiming is the
//    ticket's step. An index at or past the count is a failed claim; a range's count never
//    grows from one step to the next (only an epoch's last step is short), so it is never
//    mistaken for work.
//  - Only the thread that finishes a phase's last piece (DONE reaches the item count)
//    moves on: it resets DONE, publishes the next phase's tickets, then bumps SEQ.
//    It writes the tickets highest range first, ending with range 0, which always has
//    work: the phase cannot end before that last write, so every ticket write comes
//    before the next mover's.
//    Nothing else writes those fields during a segment, so there is exactly one mover.
//  - An idle thread reads SEQ before claiming and sleeps only while SEQ still holds that
//    value, so a phase change between its claim and its sleep cannot be missed
//    (Atomics.wait returns at once when the value differs).
//  - The mover itself keeps claiming, so work proceeds even when it wakes nobody;
//    sleepers use a timeout and re-check FAILED, so a dead worker cannot hang the rest.
//  - Only threads with a seat below run.participants train. Any one of them can finish a
//    segment alone (it takes from every range once its own is used up), so absent
//    seat-holders slow it down but cannot stall it; and if no seat-holder got a task at
//    all, the coordinator sees the segment unfinished and runs it again open to every
//    thread (Control.OPEN_TO_ALL).
//  - The original recipe's loop (runFusedSegment) runs on the one thread holding the
//    segment's only first-phase ticket; the others can claim nothing and wait for it.

import { createKernel, NULL_KERNEL, type Kernel } from '../model/kernels.js';
import { modelSpec, type ModelSpec } from '../model/spec.js';
import { createWasmKernel, wasmScratchFloats } from '../model/wasm/wasm-kernel.js';
import { createWasmAdder, createWasmUpdate, createWasmWarm } from '../model/wasm/wasm-update.js';
import { lossDiverged } from './divergence.js';
import { INJECTED_FAULT, maybeFail, maybeStallOpening } from './fault.js';
import { learningRate } from './schedule.js';
import { reduceAndUpdate, type UpdateArgs } from './optimizer.js';
import {
  CLOSED_TICKET, Control, Failure, PHASE_A, PHASE_B, PHASE_SHIFT,
  microbatchesIn, rangeItems, setTickets, stepGeometry, stepRange, taskGeometry, tasksIn, ticketField,
  type SharedRun, type StepGeometry, type TaskGeometry,
} from './protocol.js';
import { jsAdder, NO_ADDER, runTask, sumTasks, type Adder } from './reduction-tree.js';

const INDEX_MASK = (1 << PHASE_SHIFT) - 1;
/**
 * How long an idle training thread polls SEQ before sleeping: about as long as a microbatch
 * takes (~20 µs), so a phase change usually finds it awake (waking a sleeper costs tens of
 * microseconds). Training threads are at most one per core (SharedRun.participants).
 */
const SPIN_ITERATIONS = 20_000;
/** How long a sleeping thread waits before re-checking for a failed run. */
const SLEEP_MS = 250;
/** Fused SGD steps per kernel.prefetch hint (0.068 -> 0.053 s per epoch with the wasm kernel). */
const PREFETCH_SAMPLES = 16;

interface ThreadContext {
  runId: string;
  kernel: Kernel;
  /** The optimiser update of one parameter range: in wasm SIMD with the 'wasm' kernel, else JS. */
  update: (a: UpdateArgs) => void;
  /** The reduction tree's additions (wasm SIMD or JS, as the update). */
  adder: Adder;
  /** Pulls the parameters into this core's cache before a task (wasm runs with more than one thread). */
  warm: ((params: Float32Array) => void) | undefined;
  slots: Float32Array[];
  geometry: StepGeometry;
  tasks: TaskGeometry;
  /** This thread's place in the run, claimed once: seats below run.participants do the training steps. */
  seat: number;
  /** This thread's part of run.reduced: the summed gradient, then sumTasks' scratch levels. */
  reduced: Float32Array;
  /** Float offset of `reduced` in the shared memory. */
  reducedAt: number;
  /** runTask's scratch. */
  sizes: Int32Array;
  /** One argument record per thread, refilled for each chunk: no allocation per step. */
  args: UpdateArgs;
  /** The step whose task this thread is running: what `leaf` reads. */
  current: { step: number; sampleBase: number; sampleEnd: number };
  /** The callbacks runTask and sumTasks take, made once per run (no allocation per step). */
  leaf: (index: number, slot: number) => void;
  slotAt: (slot: number) => number;
  taskSumAt: (task: number) => number;
  levelAt: (level: number) => number;
}

let context: ThreadContext | undefined;

/** This thread's kernel and gradient-slot views for the run, built once per run. */
export function threadContext(run: SharedRun): ThreadContext {
  if (context?.runId !== run.runId) {
    const spec = modelSpec(run.sizes);
    const paramCount = spec.paramCount;
    const slotCount = run.grads.length / paramCount;
    const slots = Array.from({ length: slotCount }, (_, i) => run.grads.subarray(i * paramCount, (i + 1) * paramCount));
    const seat = Atomics.add(run.control, Control.SEATS, 1);
    const geometry = stepGeometry(run.config, run.train.count);
    const tasks = taskGeometry(geometry, run.participants, paramCount);
    const reduced = run.reduced.subarray(seat * tasks.reducedFloats, (seat + 1) * tasks.reducedFloats);
    const slotsAt = run.grads.byteOffset / 4;
    const reducedAt = reduced.byteOffset / 4;
    const taskStride = tasks.leavesPerTask * paramCount;
    const kernel = buildKernel(run, spec);
    const current = { step: 0, sampleBase: 0, sampleEnd: 0 };
    const { params, train, order, losses } = run;
    context = {
      runId: run.runId, ...kernel, slots, geometry, tasks, seat, reduced, reducedAt,
      sizes: new Int32Array(32),
      args: { config: run.config, params, grads: run.grads, slotCount: 1, slotStride: paramCount, scale: 0, state: run.state, t: 0, lr: 0, from: 0, to: 0 },
      current,
      leaf(index, slot) {
        if (INJECTED_FAULT) maybeFail(current.step);
        const from = current.sampleBase + index * geometry.microbatch;
        const to = Math.min(from + geometry.microbatch, current.sampleEnd);
        losses[current.step * geometry.microbatchesPerStep + index] = kernel.kernel.gradient(params, slots[slot], train, order, from, to);
      },
      slotAt: (slot) => slotsAt + slot * paramCount,
      taskSumAt: (task) => slotsAt + task * taskStride,
      levelAt: (level) => reducedAt + paramCount + level * tasks.chunkFloats,
    };
  }
  return context;
}

/**
 * The run's kernel, optimiser update and additions for this thread. A 'wasm' run does them
 * in wasm SIMD, and its kernel claims this thread's own scratch region (once per run and thread).
 */
function buildKernel(run: SharedRun, spec: ModelSpec): Pick<ThreadContext, 'kernel' | 'update' | 'adder' | 'warm'> {
  if (run.kernel === 'none') return { kernel: NULL_KERNEL, update: () => undefined, adder: NO_ADDER, warm: undefined };
  if (run.kernel !== 'wasm') {
    return { kernel: createKernel(spec, run.kernel), update: reduceAndUpdate, adder: jsAdder(new Float32Array(run.memory.buffer)), warm: undefined };
  }
  const floats = wasmScratchFloats(spec);
  const region = Atomics.add(run.control, Control.SCRATCH_CLAIM, 1);
  if ((region + 1) * floats > run.scratch.length) throw new Error('more threads built a wasm kernel than the run has scratch regions for');
  const scratch = run.scratch.subarray(region * floats, (region + 1) * floats);
  return {
    kernel: createWasmKernel(spec, run.memory, scratch),
    update: createWasmUpdate(run.memory),
    adder: createWasmAdder(run.memory),
    // With one training thread every line is already in its cache.
    warm: run.participants > 1 ? createWasmWarm(run.memory) : undefined,
  };
}

/** Takes part in the current segment (steps STEP..STEP_END of the epoch) until it ends. */
export function trainSegment(run: SharedRun): void {
  const ctx = threadContext(run);
  const { seat, geometry: g, tasks } = ctx;
  // The same threads train every segment (each thread has its own JIT state and caches);
  // the others leave, unless the coordinator opened the segment to all (see trainSteps).
  if (seat >= run.participants && Atomics.load(run.control, Control.OPEN_TO_ALL) === 0) return;
  const { control } = run;
  const ranges = run.participants;
  const home = seat % ranges;

  for (;;) {
    // Read before claiming: if every claim fails, we sleep only while SEQ still holds this value.
    const seq = Atomics.load(control, Control.SEQ);
    let worked = false;
    // Our own range first, then the others', in turn.
    for (let attempt = 0; attempt < ranges && !worked; attempt++) {
      const range = (home + attempt) % ranges;
      const ticket = Atomics.add(control, ticketField(range), 1);
      const phase = (ticket >>> PHASE_SHIFT) & 1;
      const index = ticket & INDEX_MASK;
      const step = Atomics.load(control, Control.STEP);
      if (phase === PHASE_A) {
        if (index >= rangeItems(range, tasks.tasksPerRange, tasksIn(g, tasks, step))) continue;
        if (g.fused) runFusedSegment(run, ctx.kernel, g, step);
        else runStepTask(run, ctx, step, range * tasks.tasksPerRange + index);
      } else {
        if (index >= rangeItems(range, tasks.chunksPerRange, tasks.chunks)) continue;
        updateChunk(run, ctx, step, range * tasks.chunksPerRange + index);
      }
      worked = true;
    }
    if (worked) continue;
    // Nothing left to claim: the segment is over, or this phase's pieces are all taken.
    if (Atomics.load(control, Control.FAILED) !== Failure.NONE) return;
    if (Atomics.load(control, Control.STEP) >= Atomics.load(control, Control.STEP_END)) return;
    waitForPhaseChange(run, seq);
  }
}

/** Phase A: task `task` of `step`, its subtree's sum left in its first slot; the last task opens phase B. */
function runStepTask(run: SharedRun, ctx: ThreadContext, step: number, task: number): void {
  const { geometry: g, tasks, current } = ctx;
  const microbatches = microbatchesIn(g, step);
  const first = task * tasks.leavesPerTask;
  const range = stepRange(g, step);
  current.step = step;
  current.sampleBase = range.first;
  current.sampleEnd = range.end;
  ctx.warm?.(run.params);
  runTask(first, Math.min(microbatches, first + tasks.leavesPerTask), ctx.leaf, ctx.slotAt, run.params.length, ctx.adder, ctx.sizes);
  if (Atomics.add(run.control, Control.DONE, 1) + 1 === tasksIn(g, tasks, step) && stepLossIsSane(run, g, step, microbatches)) {
    openPhase(run, step, PHASE_B, tasks.chunks);
  }
}

/** Phase B: sums the tasks' gradients over parameter chunk `chunk` and updates it; the last chunk ends the step. */
function updateChunk(run: SharedRun, ctx: ThreadContext, step: number, chunk: number): void {
  const { geometry: g, tasks, args } = ctx;
  const { control, params } = run;
  const { first, end } = stepRange(g, step);
  const from = chunk * tasks.chunkFloats;
  const to = Math.min(params.length, from + tasks.chunkFloats);
  const taskCount = tasksIn(g, tasks, step);
  if (taskCount <= 3) {
    // Up to three sums, the tree's upper levels add them left to right: the update reads
    // them where they are, with nothing written in between.
    args.grads = run.grads;
    args.slotCount = taskCount;
    args.slotStride = tasks.leavesPerTask * params.length;
  } else {
    sumTasks(ctx.reducedAt + from, 0, taskCount, ctx.taskSumAt, from, to - from, ctx.adder, ctx.levelAt);
    args.grads = ctx.reduced;
    args.slotCount = 1;
  }
  args.scale = 1 / (end - first);
  args.t = Atomics.load(control, Control.T_BASE) + step + 1;
  args.lr = learningRate(run.config, Atomics.load(control, Control.EPOCH));
  args.from = from;
  args.to = to;
  ctx.update(args);
  if (Atomics.add(control, Control.DONE, 1) + 1 === tasks.chunks) finishStep(run, ctx, step);
}

/**
 * The original recipe (batch 1, fused SGD): each step is one sample, so only one thread can
 * ever work at a time. The thread holding the segment's first ticket runs all its steps in
 * a plain loop, without a claim and hand-over per step (a third of a step's time otherwise).
 * The others find no ticket and sleep until the segment closes.
 */
function runFusedSegment(run: SharedRun, kernel: Kernel, g: StepGeometry, first: number): void {
  const { config, control, params, train, order, losses } = run;
  const lr = learningRate(config, Atomics.load(control, Control.EPOCH));
  let step = first;
  for (;;) {
    if (INJECTED_FAULT) maybeFail(step);
    // Samples come in random order; letting the kernel fetch the next few samples' data
    // together saves it waiting for each one's cache misses in turn.
    if (step % PREFETCH_SAMPLES === 0) kernel.prefetch?.(train, order, step, step + PREFETCH_SAMPLES);
    losses[step] = kernel.sgdSample(params, train, order[step], lr);
    if (!stepLossIsSane(run, g, step, 1)) return;
    step++;
    if (Atomics.load(control, Control.STOP) !== 0) Atomics.store(control, Control.STEP_END, step);
    if (step >= Atomics.load(control, Control.STEP_END)) break;
    if ((step & 1023) === 0) Atomics.store(control, Control.STEP, step); // for progress reports
  }
  Atomics.store(control, Control.STEP, step);
  closeSegment(run);
}

/**
 * Publishes the next phase's work (`items` pieces) and wakes up to `items - 1` helpers (the
 * caller takes part too). Tickets go highest range first: the ranges with work are always
 * the first ones (rangeItems), so range 0 is written last and the phase cannot end before
 * it. Written in the other order, a range with nothing to claim (a short last step, more
 * threads than tasks) could get its ticket after the phase had ended and another thread
 * had opened the next one, overwriting that phase's ticket and stranding its work.
 */
function openPhase(run: SharedRun, step: number, phase: number, items: number): void {
  const { control, participants } = run;
  const ticket = phase << PHASE_SHIFT;
  Atomics.store(control, Control.DONE, 0);
  for (let r = participants - 1; r >= 0; r--) {
    if (INJECTED_FAULT && phase === PHASE_A && r === 0) maybeStallOpening(control, step);
    Atomics.store(control, ticketField(r), ticket);
  }
  Atomics.add(control, Control.SEQ, 1);
  const wake = Math.min(items, participants) - 1;
  if (wake > 0) Atomics.notify(control, Control.SEQ, wake);
}

/** Ends the segment (everyone returns) after a failure, a stop request or its last step. */
function closeSegment(run: SharedRun): void {
  const { control } = run;
  setTickets(control, run.participants, CLOSED_TICKET);
  Atomics.add(control, Control.SEQ, 1);
  Atomics.notify(control, Control.SEQ);
}

/** Checks the step's loss before its update is applied (fused SGD: just after); a diverged one ends the run. */
function stepLossIsSane(run: SharedRun, g: StepGeometry, step: number, items: number): boolean {
  let sum = 0;
  for (let i = 0; i < items; i++) sum += run.losses[step * g.microbatchesPerStep + i];
  const { first, end } = stepRange(g, step);
  if (!lossDiverged(sum / (end - first))) return true;
  Atomics.store(run.control, Control.FAILED_STEP, step);
  Atomics.store(run.control, Control.FAILED, Failure.DIVERGED);
  closeSegment(run);
  return false;
}

/** Advances STEP; opens the next step's phase A unless the segment is over. */
function finishStep(run: SharedRun, ctx: ThreadContext, step: number): void {
  const { control } = run;
  const next = step + 1;
  if (Atomics.load(control, Control.STOP) !== 0) Atomics.store(control, Control.STEP_END, next);
  Atomics.store(control, Control.STEP, next);
  if (next >= Atomics.load(control, Control.STEP_END)) closeSegment(run);
  else openPhase(run, next, PHASE_A, tasksIn(ctx.geometry, ctx.tasks, next));
}

/** Spins briefly (each seated thread has a core of its own), then sleeps until SEQ moves on. */
function waitForPhaseChange(run: SharedRun, seq: number): void {
  const { control } = run;
  // Opened to all, there may be more threads than cores: then spinning would steal the core
  // of the thread holding the work.
  const spin = Atomics.load(control, Control.OPEN_TO_ALL) === 0 ? SPIN_ITERATIONS : 0;
  for (let i = 0; i < spin; i++) {
    if (Atomics.load(control, Control.SEQ) !== seq) return;
  }
  Atomics.wait(control, Control.SEQ, seq, SLEEP_MS);
}
