/**
 * A synchronous backend switch for test code. tf.setBackend returns a promise, but for a backend that is already
 * initialised (or, like cpu, initialises synchronously) the switch is done before that promise is returned; the helpers
 * and tests that compare backends rely on this. useBackend says so in one place and fails loudly where it does not hold
 * (a backend still to be initialised asynchronously, e.g. wasm before `await tf.setBackend('wasm')`).
 */
import * as tf from '@tensorflow/tfjs';

/** Makes `name`, an initialised backend, the current one, before returning. */
export function useBackend(name: string): void {
  if (tf.findBackend(name) === null) {
    throw new Error(`Expected backend '${name}' to be initialised (await tf.setBackend('${name}') first), but it is not`);
  }
  void tf.setBackend(name);
  if (tf.getBackend() !== name) throw new Error(`Expected the backend to be '${name}' after switching, but got '${tf.getBackend()}'`);
}
