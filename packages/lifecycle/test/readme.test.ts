/** The README's example, run as written. */
import { describe, expect, expectTypeOf, it } from 'vitest';
import {
  defineMachine,
  fuseMachine,
  InvalidTransitionError,
  refreshModeTransitionSteps,
  resetFuse,
  streamTableStatusMachine,
} from '../src/index.js';

describe('README example', () => {
  it('status, fuse reset, refresh-mode steps and a custom machine', () => {
    let status = streamTableStatusMachine.initial;
    expect(status).toBe('PENDING');
    status = streamTableStatusMachine.transition(status, 'created');
    expect(status).toBe('INITIALIZING');
    status = streamTableStatusMachine.transition(status, 'populated');
    expect(status).toBe('ACTIVE');
    expect(streamTableStatusMachine.allowed('ERROR')).toEqual(['resume', 'reinitialize', 'drop']);

    let caught: InvalidTransitionError | undefined;
    try {
      streamTableStatusMachine.transition('DROPPED', 'resume');
    } catch (e) {
      if (e instanceof InvalidTransitionError) caught = e;
    }
    expect(caught?.code).toBe('PGT_INVALID_TRANSITION');
    expect(caught?.allowed).toEqual([]);
    expect(caught?.message).toMatch(
      /^stream-table status: event "resume" is not allowed in state DROPPED \(DROPPED is terminal: no event is allowed\); the state is unchanged\./,
    );

    const blown = fuseMachine.transition('INTACT', 'blow');
    expect(blown).toBe('BLOWN');
    expect(resetFuse(blown, 'apply')).toEqual({
      mode: 'apply',
      state: 'INTACT',
      bypassNextCheck: true,
      skipPendingChanges: false,
      reinitialize: false,
      description: expect.stringMatching(/^accept the pending batch: /),
    });

    expect(refreshModeTransitionSteps('DIFFERENTIAL', 'IMMEDIATE')).toEqual([
      'unregister_change_consumer',
      'install_immediate_triggers',
      'full_refresh',
    ]);

    const job = defineMachine({
      name: 'export job',
      states: ['QUEUED', 'RUNNING', 'DONE', 'FAILED'],
      events: ['start', 'finish', 'fail', 'retry'],
      initial: 'QUEUED',
      terminal: ['DONE'],
      transitions: {
        QUEUED: { start: 'RUNNING' },
        RUNNING: { finish: { to: 'DONE', steps: ['upload'] }, fail: 'FAILED' },
        FAILED: { retry: 'QUEUED' },
      },
    });
    const run = job.start();
    run.send('start');
    expect(run.send('finish').steps).toEqual(['upload']);
    expect(run.state).toBe('DONE');
    expectTypeOf(run.state).toEqualTypeOf<'QUEUED' | 'RUNNING' | 'DONE' | 'FAILED'>();
    expect(job.explain()).toBe(
      [
        'state machine "export job" (initial QUEUED)',
        'QUEUED',
        '  start → RUNNING',
        'RUNNING',
        '  finish → DONE [upload]',
        '  fail → FAILED',
        'DONE (terminal)',
        'FAILED',
        '  retry → QUEUED',
      ].join('\n'),
    );
  });
});
