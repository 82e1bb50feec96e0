import type {
  OpenAPIObject,
  OperationObject,
  ParameterObject,
  ReferenceObject,
  ResponseObject,
  SchemaObject,
} from '@nestjs/swagger';
import type { TasksConfig } from '../config/configuration';
import { DeletedTaskResponse, TASK_ID_MARK, TaskListResponse } from './dto/task.response';

/** The collection and one task, in both route families. */
const COLLECTION = /^\/api(\/\{user_id\})?\/tasks$/;
const ONE_TASK = /^\/api(\/\{user_id\})?\/tasks\/\{id\}$/;

const ref = (model: { name: string }): ReferenceObject => ({
  $ref: `#/components/schemas/${model.name}`,
});
const json = (schema: SchemaObject | ReferenceObject) => ({ 'application/json': { schema } });

/**
 * The OpenAPI document as this process answers. The controller's decorators describe the
 * default shapes; the compatibility settings are read when the app starts, so the document is
 * adjusted here, from the same settings the answers follow: the list's 200 (a bare array, or
 * TaskListResponse under LIST_RESPONSE=envelope), the single DELETE (204, or 200 with
 * DeletedTaskResponse under DELETE_RESPONSE=json), every property marked as holding task ids
 * (integers, or strings under TASK_ID_TYPE=string), and `limit`'s default (DEFAULT_PAGE_SIZE).
 * Both alternative models stay in `components`, each naming the setting that serves it.
 */
export function documentTaskSettings(
  document: OpenAPIObject,
  { wire, defaultPageSize }: Pick<TasksConfig, 'wire' | 'defaultPageSize'>,
): OpenAPIObject {
  const found = { list: 0, remove: 0 };
  for (const [path, item] of Object.entries(document.paths)) {
    if (COLLECTION.test(path) && item.get) {
      documentList(item.get, wire.listResponse, defaultPageSize);
      found.list++;
    }
    if (ONE_TASK.test(path) && item.delete) {
      documentDelete(item.delete, wire.deleteResponse);
      found.remove++;
    }
  }
  // A renamed route would silently lose its documented shape: fail where tests see it.
  if (found.list !== 2 || found.remove !== 2) {
    throw new Error(`Task routes not found in the OpenAPI document: ${JSON.stringify(found)}`);
  }
  for (const schema of Object.values(document.components?.schemas ?? {})) {
    for (const property of Object.values((schema as SchemaObject).properties ?? {})) {
      if (TASK_ID_MARK in property) documentTaskId(property as SchemaObject, wire.taskIdType);
    }
  }
  return document;
}

function documentList(
  operation: OperationObject,
  shape: TasksConfig['wire']['listResponse'],
  defaultPageSize: number,
): void {
  // New objects throughout: Nest may share one between the two route families.
  const ok = operation.responses['200'] as ResponseObject;
  operation.responses['200'] =
    shape === 'envelope'
      ? {
          description: `${ok.description}. LIST_RESPONSE=envelope: {"tasks": [...], "count", "total", …}`,
          content: json(ref(TaskListResponse)),
        }
      : {
          description: `${ok.description}. LIST_RESPONSE=array: a bare array (envelope: TaskListResponse)`,
          content: ok.content,
        };
  operation.parameters = operation.parameters?.map((parameter) =>
    (parameter as ParameterObject).name === 'limit'
      ? {
          ...parameter,
          schema: { ...(parameter as ParameterObject).schema, default: defaultPageSize },
          description: `Tasks per page. Default: DEFAULT_PAGE_SIZE, here ${defaultPageSize}`,
        }
      : parameter,
  );
}

function documentDelete(
  operation: OperationObject,
  shape: TasksConfig['wire']['deleteResponse'],
): void {
  const responses = { ...operation.responses };
  delete responses['204'];
  operation.responses =
    shape === 'json'
      ? {
          '200': {
            description: 'Deleted. DELETE_RESPONSE=json: the id and `"deleted": true`',
            content: json(ref(DeletedTaskResponse)),
          },
          ...responses,
        }
      : {
          '204': {
            description:
              'Deleted, no body. DELETE_RESPONSE=empty (`json`: 200, DeletedTaskResponse)',
          },
          ...responses,
        };
}

/** A task id (or an array of them) as TASK_ID_TYPE writes it; the mark is removed. */
function documentTaskId(property: SchemaObject, type: TasksConfig['wire']['taskIdType']): void {
  delete (property as Record<string, unknown>)[TASK_ID_MARK];
  if (type !== 'string') return;
  const asString = (schema: SchemaObject) => {
    schema.type = 'string';
    schema.pattern = '^\\d+$';
    if (typeof schema.example === 'number') schema.example = String(schema.example);
  };
  if (property.type === 'array' && property.items) asString(property.items as SchemaObject);
  else asString(property);
  property.description = [property.description, 'A string of digits (TASK_ID_TYPE=string)']
    .filter(Boolean)
    .join('. ');
}
