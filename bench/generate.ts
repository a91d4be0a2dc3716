/**
 * `node .build/bench/generate.js <size> [seed] [jobs]`: fills the cache under .bench/storage (as
 * `npm run bench` would) and prints what it holds. Useful to prepare L ahead of a benchmark run.
 */
import { cachedStorage } from "./environment.js";
import type { SizeName } from "./model.js";

const [size = "S", seed = "1", jobs = "2"] = process.argv.slice(2);
const storage = await cachedStorage(size as SizeName, Number(seed), Number(jobs));
const { sample: _sample, ...counts } = storage.summary;
const how = storage.generatedIn === undefined ? "from the cache" : `generated in ${storage.generatedIn.toFixed(1)} s`;
process.stdout.write(`${storage.root}\n${JSON.stringify(counts)}\n${how}\n`);
