/** The TaskManagers: GET /taskmanagers and GET /taskmanagers/:taskmanagerid. */
import { TASK_MANAGER_ID, taskManagerDetails, taskManagerInfo } from '../dto/taskmanager-dto.ts';
import { json, param } from '../rest-app.ts';
import { HttpError } from '../rest-errors.ts';
import type { RestModule } from '../rest-module.ts';

export const taskManagerRoutes: RestModule = (routes, { dispatcher: d }) => {
  routes
    .get('/taskmanagers', (c) => json(c, 200, { taskmanagers: [taskManagerInfo({ slots: d.slots, freeSlots: d.freeSlots })] }))
    .get('/taskmanagers/:taskmanagerid', (c) => {
      const id = param(c, 'taskmanagerid');
      if (id !== TASK_MANAGER_ID) throw new HttpError(404, `Could not find TaskExecutor ${id}.`);
      return json(c, 200, taskManagerDetails({ slots: d.slots, freeSlots: d.freeSlots, jobs: d.jobs() }));
    });
};
