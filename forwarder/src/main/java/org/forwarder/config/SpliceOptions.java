package org.forwarder.config;

/**
 * Which directions may use splice(2) through a kernel pipe instead of copying through user
 * space: {@code request} is client to server, {@code response} server to client, {@code auto}
 * lets the forwarder decide per direction from the traffic it sees.
 */
public record SpliceOptions(boolean request, boolean response, boolean auto) {

    public static final SpliceOptions NONE = new SpliceOptions(false, false, false);

    /** Each option set here or in {@code other}: a stream splices if its frontend or its backend asks for it. */
    public SpliceOptions or(SpliceOptions other) {
        return new SpliceOptions(request || other.request, response || other.response, auto || other.auto);
    }

    /** True if any splice option is set. */
    public boolean any() {
        return request || response || auto;
    }

    public SpliceOptions withRequest(boolean on) { return new SpliceOptions(on, response, auto); }
    public SpliceOptions withResponse(boolean on) { return new SpliceOptions(request, on, auto); }
    public SpliceOptions withAuto(boolean on) { return new SpliceOptions(request, response, on); }

    /** The options a stream from {@code fe} to {@code be} runs with. */
    public static SpliceOptions effective(FrontendConfig fe, BackendConfig be) {
        return fe.splice().or(be.splice());
    }
}
