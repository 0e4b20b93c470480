import { createApp } from 'vue';
import ElementPlus from 'element-plus';
import 'element-plus/dist/index.css';
import './console.css';
import App from './App.vue';
import { i18n } from './i18n.js';
import { resume } from './session.js';

// The operator console: Vue 3 + Element Plus, served by the node under /console/.
await resume();
createApp(App).use(i18n).use(ElementPlus).mount('#app');
