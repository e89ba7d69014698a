/**
 * The forwarder as a module, so that javac checks what it may use: of the native bindings only
 * the exported syscall layer ({@code org.forwarder.sys}), never the generated package. The tests
 * compile inside this module too, so the same holds for them.
 *
 * <p>A compile-time fence only: the tests and the shaded jar run on the class path, where this
 * descriptor is ignored. Nothing is exported, as no module uses the forwarder; the benchmarks
 * compile on the class path, and {@code BindingsFenceTest} keeps them off the generated package.
 */
module org.forwarder {
    requires org.forwarder.nativebindings;
    requires java.management;   // thread CPU time in the stop summary
    requires jdk.management;    // com.sun.management.ThreadMXBean
    requires jdk.unsupported;   // sun.misc.Signal for SIGTERM/SIGINT
}
