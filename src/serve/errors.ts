// OpenAI-style errors as vLLM sends them: { error: { message, type, param, code } } with the HTTP status.
export class HttpError extends Error {
  constructor(
    readonly status: number,
    message: string,
    readonly param: string | null = null,
  ) {
    super(message);
  }
}

const TYPES: Record<number, string> = {
  400: 'BadRequestError',
  401: 'AuthenticationError',
  404: 'NotFoundError',
  405: 'MethodNotAllowedError',
  413: 'BadRequestError',
  415: 'BadRequestError',
  501: 'NotImplementedError',
};

export function errorBody(status: number, message: string, param: string | null = null) {
  return { error: { message, type: TYPES[status] ?? (status >= 500 ? 'InternalServerError' : 'BadRequestError'), param, code: status } };
}

export const badRequest = (message: string, param: string | null = null) => new HttpError(400, message, param);
