// The geopyspark back-end's Python-Jep UDF calls, replayed from Java through a real Jep interpreter.
//
// Read from openeo-geotrellis-extensions openeo-geotrellis/.../udf/Udf.scala (callApplyMetadata,
// runUserCodeSpatioTemporalWithBands, setXarraydatacubeInPython, setContextInPython) and written
// here in our own words; what is replayed:
//   * apply_metadata first, once, in its own SharedInterpreter, only when the code contains
//     "def apply_metadata(": CollectionMetadata built from a dict with spatial x/y (step = cell size
//     as a Java double, reference_system = EPSG code), "t" temporal without extent and a bands
//     dimension named "band"; the new step read back as a Java Double, the band names as a list;
//   * then, per window, a fresh SharedInterpreter (shared modules: one per JVM, as executor tasks):
//     the default imports, the window as a DirectNDArray over a direct float32 buffer
//     (t, bands, y, x), wrapped in an xarray.DataArray named "openEODataChunk" with t (datetime from
//     epoch ms), bands (names) and float32 x/y coordinates, an XarrayDataCube in a UdfData; the
//     context handed over as a java.util.HashMap whose nested maps become dicts while lists stay
//     java.util.ArrayList; the UDF code exec'd; apply_datacube called with positional arguments;
//   * the result read back raw: shape as a list of Long, values as NDArray<float[]> (a new array)
//     or DirectNDArray (modified in place), dtype checked to be float32 and 4-D, dates from the
//     result's t coordinate (ns / 10^6);
//   * several windows run at once on a thread pool: tasks of one executor JVM sharing the interpreter's
//     modules (and so s2sr's session cache).
//
// Usage: java -cp jep.jar:. -Djava.library.path=<jep dir> UdfDriver job.txt out_dir
// job.txt: tab-separated lines, see tests/test_openeo_jep.py.
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.FloatBuffer;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.Paths;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;

import jep.DirectNDArray;
import jep.JepConfig;
import jep.NDArray;
import jep.SharedInterpreter;

public class UdfDriver {

    /** A window's core extent with accessor methods, as the back-end hands it to Python. */
    public static final class Extent {
        private final double xmin, ymin, xmax, ymax;
        private final int tileCols, tileRows;

        public Extent(double xmin, double ymin, double xmax, double ymax, int tileCols, int tileRows) {
            this.xmin = xmin; this.ymin = ymin; this.xmax = xmax; this.ymax = ymax;
            this.tileCols = tileCols; this.tileRows = tileRows;
        }
        public double xmin() { return xmin; }
        public double ymin() { return ymin; }
        public double xmax() { return xmax; }
        public double ymax() { return ymax; }
        public int tileCols() { return tileCols; }
        public int tileRows() { return tileRows; }
    }

    static final String IMPORTS = String.join("\n",
        "import collections",
        "import datetime",
        "import numpy as np",
        "import xarray as xr",
        "import openeo.metadata",
        "from openeo.udf import UdfData",
        "from openeo.udf.xarraydatacube import XarrayDataCube",
        "");

    static final String CONTEXT_TO_DICT = String.join("\n",
        "def _java_map_as_dict(m):",
        "    d = {}",
        "    for key in m:",
        "        value = m[key]",
        "        if 'jep.PyJMap' in str(type(value)):",
        "            value = _java_map_as_dict(value)",
        "        d[key] = value",
        "    return d",
        "context = _java_map_as_dict(java_context)",
        "");

    static final String COORDS = String.join("\n",
        "dims = ('t', 'bands', 'y', 'x')",
        "coords = {'t': [datetime.datetime.utcfromtimestamp(ms / 1000) for ms in start_times]}",
        "if band_names:",
        "    coords['bands'] = band_names",
        "step_x = (extent.xmax() - extent.xmin()) / extent.tileCols()",
        "step_y = (extent.ymax() - extent.ymin()) / extent.tileRows()",
        "x0 = extent.xmin() - overlap_x * step_x",
        "y1 = extent.ymax() + overlap_y * step_y",
        "coords['x'] = np.linspace(x0 + 0.5 * step_x, x0 + (tile_shape[-1] - 0.5) * step_x, tile_shape[-1], dtype=np.float32)",
        "coords['y'] = np.linspace(y1 - 0.5 * step_y, y1 - (tile_shape[-2] - 0.5) * step_y, tile_shape[-2], dtype=np.float32)",
        "");

    static Map<String, List<String>> job = new LinkedHashMap<>();
    static List<String[]> windows = new ArrayList<>();

    public static void main(String[] args) throws Exception {
        for (String line : Files.readAllLines(Paths.get(args[0]))) {
            if (line.isEmpty()) continue;
            String[] parts = line.split("\t", -1);
            List<String> values = new ArrayList<>(List.of(parts).subList(1, parts.length));
            if (parts[0].equals("window")) windows.add(values.toArray(new String[0]));
            else job.put(parts[0], values);
        }
        Path out = Paths.get(args[1]);
        String code = Files.readString(Paths.get(one("code")));

        JepConfig config = new JepConfig();
        config.redirectStdErr(System.err);
        config.redirectStdout(System.out);
        SharedInterpreter.setConfig(config);

        ArrayList<String> bands = new ArrayList<>(job.get("bands"));
        int[] ratio = {1, 1};
        if (code.contains("def apply_metadata(")) {
            try (SharedInterpreter interp = new SharedInterpreter()) {
                interp.exec(IMPORTS);
                setContext(interp);
                interp.exec(code);
                StringBuilder names = new StringBuilder();
                for (String b : bands) names.append(names.length() > 0 ? ", " : "").append('"').append(b).append('"');
                double cell = Double.parseDouble(one("cell"));
                interp.exec("metadata = {'cube:dimensions': {"
                    + "'x': {'type': 'spatial', 'axis': 'x', 'step': " + cell + ", 'reference_system': " + one("crs") + "},"
                    + "'y': {'type': 'spatial', 'axis': 'y', 'step': " + cell + ", 'reference_system': " + one("crs") + "},"
                    + "'t': {'type': 'temporal'},"
                    + "'band': {'type': 'bands', 'values': [" + names + "]}}}");
                interp.exec("result_metadata = apply_metadata(openeo.metadata.CollectionMetadata(metadata), context)");
                @SuppressWarnings("unchecked")
                List<String> newBands = (List<String>) interp.getValue("[b.name for b in result_metadata.bands]");
                double sx = (Double) interp.getValue("[d for d in result_metadata.spatial_dimensions if d.name == 'x'][0].step");
                double sy = (Double) interp.getValue("[d for d in result_metadata.spatial_dimensions if d.name == 'y'][0].step");
                ratio[0] = (int) (cell / sx);
                ratio[1] = (int) (cell / sy);
                Files.writeString(out.resolve("metadata.txt"),
                    "ratio\t" + ratio[0] + "\t" + ratio[1] + "\nbands\t" + String.join("\t", newBands) + "\n");
            }
        }

        int tasks = Integer.parseInt(one("tasks"));
        ExecutorService pool = Executors.newFixedThreadPool(tasks);
        List<Future<?>> done = new ArrayList<>();
        for (String[] w : windows) {
            done.add(pool.submit(() -> { runWindow(w, code, bands, out, ratio[0] != 1 || ratio[1] != 1); return null; }));
        }
        for (Future<?> f : done) f.get();
        pool.shutdown();

        try (SharedInterpreter interp = new SharedInterpreter()) {
            interp.exec("import s2sr, sys\nfrom s2sr.udf import worker");
            Files.writeString(out.resolve("interpreter.txt"),
                "s2sr\t" + interp.getValue("s2sr.__file__") + "\n"
                + "sessions\t" + interp.getValue("worker.sessions_created()") + "\n"
                + "sys.path[-1]\t" + interp.getValue("sys.path[-1]") + "\n"
                + "sys.path[0]\t" + interp.getValue("sys.path[0]") + "\n"
                + "sys.path\t" + interp.getValue("repr(sys.path)") + "\n");
        }
    }

    static String one(String key) {
        return job.get(key).get(0);
    }

    static void setContext(SharedInterpreter interp) {
        HashMap<String, Object> context = new HashMap<>();
        context.put("model", one("model"));
        context.put("python_path", new ArrayList<>(job.get("python_path")));
        if (job.containsKey("threads")) context.put("threads", Integer.parseInt(one("threads")));
        if (job.containsKey("nodata")) context.put("nodata", Double.parseDouble(one("nodata")));
        interp.set("java_context", context);
        interp.exec(CONTEXT_TO_DICT);
    }

    static void runWindow(String[] w, String code, ArrayList<String> bands, Path out, boolean newLayout) throws IOException {
        // w: index, t, bands, rows, cols, xmin, ymin, xmax, ymax, tileCols, tileRows, overlapX, overlapY, input
        String index = w[0];
        int t = Integer.parseInt(w[1]), nb = Integer.parseInt(w[2]);
        int rows = Integer.parseInt(w[3]), cols = Integer.parseInt(w[4]);
        Extent extent = new Extent(Double.parseDouble(w[5]), Double.parseDouble(w[6]), Double.parseDouble(w[7]),
            Double.parseDouble(w[8]), Integer.parseInt(w[9]), Integer.parseInt(w[10]));
        byte[] raw = Files.readAllBytes(Paths.get(w[13]));
        FloatBuffer buffer = ByteBuffer.allocateDirect(raw.length).order(ByteOrder.nativeOrder()).asFloatBuffer();
        buffer.put(ByteBuffer.wrap(raw).order(ByteOrder.LITTLE_ENDIAN).asFloatBuffer());
        DirectNDArray<FloatBuffer> tile = new DirectNDArray<>(buffer, t, nb, rows, cols);
        ArrayList<Long> dates = new ArrayList<>();
        for (String d : job.get("dates")) dates.add(Long.parseLong(d));

        try (SharedInterpreter interp = new SharedInterpreter()) {
            interp.exec(IMPORTS);
            interp.set("tile_shape", new ArrayList<>(List.of(t, nb, rows, cols)));
            interp.set("extent", extent);
            interp.set("overlap_x", Integer.parseInt(w[11]));
            interp.set("overlap_y", Integer.parseInt(w[12]));
            interp.set("band_names", bands);
            interp.set("start_times", dates);
            interp.exec(COORDS);
            interp.set("npCube", tile);
            interp.exec("the_array = xr.DataArray(npCube, coords=coords, dims=dims, name='openEODataChunk')\n"
                + "datacube = XarrayDataCube(the_array)");
            setContext(interp);
            interp.exec("data = UdfData(proj={'EPSG': 900913}, datacube_list=[datacube], user_context=context)");
            interp.exec(code);
            interp.exec("result_cube = apply_datacube(data.get_datacube_list()[0], data.user_context)");

            @SuppressWarnings("unchecked")
            List<Long> shape = (List<Long>) interp.getValue("result_cube.get_array().values.shape");
            Object values = interp.getValue("result_cube.get_array().values");
            FloatBuffer result;
            if (values instanceof DirectNDArray) {
                result = (FloatBuffer) ((DirectNDArray<?>) values).getData();
            } else {
                if (shape.size() != 4) throw new IllegalArgumentException("UDF result is not (t, bands, rows, cols): " + shape);
                String dtype = (String) interp.getValue("str(result_cube.get_array().values.dtype)");
                if (!dtype.equals("float32")) throw new IllegalArgumentException("UDF result dtype is " + dtype + ", not float32");
                if (!newLayout && (shape.get(2) != rows || shape.get(3) != cols))
                    throw new IllegalArgumentException("UDF changed rows/cols without apply_metadata: " + shape);
                result = FloatBuffer.wrap((float[]) ((NDArray<?>) values).getData());
            }
            interp.exec("result_dates = result_cube.get_array().coords['t'].values.tolist()");
            @SuppressWarnings("unchecked")
            List<Object> ns = (List<Object>) interp.getValue("result_dates if isinstance(result_dates, list) else [result_dates]");
            StringBuilder meta = new StringBuilder("shape");
            for (Long s : shape) meta.append('\t').append(s);
            meta.append("\ndates");
            for (Object d : ns) meta.append('\t').append(((Number) d).longValue() / 1_000_000L);
            meta.append('\n');

            result.rewind();
            ByteBuffer bytes = ByteBuffer.allocate(result.remaining() * 4).order(ByteOrder.LITTLE_ENDIAN);
            bytes.asFloatBuffer().put(result);
            Files.write(out.resolve("result_" + index + ".f32"), bytes.array());
            Files.writeString(out.resolve("result_" + index + ".txt"), meta.toString());
        }
    }
}
