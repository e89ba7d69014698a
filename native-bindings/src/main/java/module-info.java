/**
 * The fence around the generated bindings: only the hand-written syscall layer
 * ({@code org.forwarder.sys}) is exported. {@code org.forwarder.linux}, jextract's output, stays
 * inside this module, so code that names it anywhere else does not compile.
 *
 * <p>A compile-time fence: javac sees the modules; the tests and the shaded jar still run on the
 * class path (the parent pom says why), so native access stays {@code ALL-UNNAMED}.
 */
module org.forwarder.nativebindings {
    exports org.forwarder.sys;
}
