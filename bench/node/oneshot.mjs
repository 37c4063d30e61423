// One-shot @gradio/client call, as a shell user runs it: connect, predict, print, exit.
//   node oneshot.mjs URL ENDPOINT 'JSON payload (a list or an object of named values)'
import { Client } from "@gradio/client";

const [url, endpoint, payload] = process.argv.slice(2);
const client = await Client.connect(url);
const result = await client.predict(endpoint, JSON.parse(payload));
console.log(result.data[0]);
process.exit(0);
