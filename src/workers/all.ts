/** All route groups in one Worker: local development (`npm run dev`) and tests. Production deploys one Worker per group. */
import { createWorker } from "../core/worker";
import { routeGroups } from "../routes/registry";

const worker = createWorker("all", routeGroups);

export default worker.handler;
export const { app } = worker;
