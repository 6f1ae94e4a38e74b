// `import kafkajs from 'kafkajs'` is common in ESM code (KafkaJS is CommonJS, and its error
// classes are not visible as named imports there); the same form works with this package.
import * as api from './public-api.js'

export default api
