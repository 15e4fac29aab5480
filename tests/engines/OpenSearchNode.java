import java.nio.file.Path;
import java.util.List;

import org.opensearch.common.settings.Settings;
import org.opensearch.node.MockNode;
import org.opensearch.node.Node;

/**
 * One OpenSearch node in this JVM, for tests/engines/engines.py.
 *
 * Why not the distribution's bin/opensearch: Maven Central publishes the server and its
 * modules as jars but not the tarball, and modules load as plugins only from a distribution's
 * modules/ folder. The test framework's MockNode takes the plugin classes on the class path
 * instead. Arguments: HOME HTTP_PORT TRANSPORT_PORT. Runs until the JVM is signalled.
 */
public final class OpenSearchNode {
    private static final List<String> PLUGINS = List.of(
        "org.opensearch.transport.Netty4Plugin",
        "org.opensearch.analysis.common.CommonAnalysisPlugin",
        "org.opensearch.painless.PainlessPlugin",
        "org.opensearch.index.mapper.MapperExtrasPlugin",
        "org.opensearch.ingest.common.IngestCommonPlugin",
        "org.opensearch.index.reindex.ReindexPlugin",
        "org.opensearch.script.mustache.MustachePlugin",
        "org.opensearch.join.ParentJoinPlugin",
        "org.opensearch.search.aggregations.matrix.MatrixAggregationPlugin");

    @SuppressWarnings("unchecked")
    public static void main(String[] args) throws Exception {
        Path home = Path.of(args[0]);
        Settings settings = Settings.builder()
            .put("cluster.name", "logwarden-test")
            .put("node.name", "node-1")
            .put("network.host", "127.0.0.1")
            .put("discovery.type", "single-node")
            .put("http.type", "netty4")
            .put("transport.type", "netty4")
            .put("http.port", args[1])
            .put("transport.port", args[2])
            .put("path.home", home.toString())
            .put("path.data", home.resolve("data").toString())
            .put("path.logs", home.resolve("logs").toString())
            .build();
        List<Class<? extends org.opensearch.plugins.Plugin>> plugins = new java.util.ArrayList<>();
        for (String name : PLUGINS) {
            plugins.add((Class<? extends org.opensearch.plugins.Plugin>) Class.forName(name));
        }
        Node node = new MockNode(settings, plugins);
        node.start();
        Runtime.getRuntime().addShutdownHook(new Thread(() -> {
            try {
                node.close();
            } catch (Exception ignored) {
                // the JVM is going away either way
            }
        }));
        Thread.currentThread().join();
    }
}
