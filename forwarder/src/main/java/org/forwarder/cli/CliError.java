package org.forwarder.cli;

/**
 * A command refused: bad arguments, an unknown name, a value out of range. Its message is the
 * whole answer (HAProxy's CLI answers an error with one line and the empty line that ends every
 * answer). Thrown only on the control loop, never on a forwarding loop.
 */
final class CliError extends RuntimeException {
    CliError(String message) {
        super(message, null, false, false);
    }
}
